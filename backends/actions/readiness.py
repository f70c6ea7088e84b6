"""Follow a model server deployment until it serves, or until waiting cannot help.

Each poll reads the deployment, its pods, the namespace's events about them and the
Service's endpoints (ObjectReader), asks Triton on every running pod whether the model is
ready (through a port-forward per pod, kept open across polls, see :class:`ModelProbe`),
and hands everything to the pure ``readiness_verdict``. ``wait {for: model_ready}`` and
``deploy`` (after the apply) both stream :func:`follow`: a progress line each time the
verdict changes, ok when it is Ready, a check failure at once when it is terminal (a crash
loop, an image that cannot be pulled, no node that fits, a model that failed to load) or
at the timeout with the last verdict.

What deploy makes decides how the verdict is read (:data:`WORKLOADS`, keyed by the kind):
a Deployment as above; KServe's InferenceService from the status its controller writes
(``isvc_verdict``; KServe runs the pods, so no port-forward). Given no kind, the poll
follows whichever of them exists under the name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.actions import events, reach
from mlops_tui.backends.actions.base import ActionContext, CheckFailed
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.deploy.kserve import API_VERSION as KSERVE_API_VERSION
from mlops_tui.backends.errors import BackendError, NotFound
from mlops_tui.backends.models import KindInfo, ResourceRef
from mlops_tui.backends.protocols import Applier, ObjectReader, PortForwarder

if TYPE_CHECKING:  # the client loads tritonclient: only when a probe really runs
    from mlops_tui.backends.deploy.verdict import Verdict
    from mlops_tui.backends.triton.client import TritonClient

POLL_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 5.0
PROBE_HINT = "Triton in the pods cannot be asked whether the models loaded"
Obj = dict[str, Any]
Answer = bool | str | None  # readiness_verdict's model_ready value for one pod


def _started(pod: Obj) -> bool:
    """The pod runs, was not asked to stop, and a container passed its startup probe
    (the server's is Triton's /v2/health/live): Triton in it answers."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get(
            "deletionTimestamp"):
        return False
    return any(isinstance(c, dict) and c.get("started") is True
               for c in status.get("containerStatuses") or ())


async def model_answer(client: TritonClient, model: str | None) -> Answer:
    """Triton's word on ``model`` (None: every model of the repository).

    Returns:
        True when ready; a reason (str) when it failed to load or is not in the repository;
        False while it is still loading.
    """
    if model is not None and await client.model_ready(model):
        return True
    if model is None and await client.server_ready():
        return True
    index = await client.repository_index()
    if model is not None and not any(entry.name == model for entry in index):
        return f"model '{model}' is not in the model repository"
    for entry in index:
        if (model is None or entry.name == model) and entry.state == "UNAVAILABLE" \
                and entry.reason:
            return f"model '{entry.name}' failed to load: {entry.reason}"
    return False


class ModelProbe:
    """Asks Triton in each running pod about the model; one port-forward and client per
    pod, opened on first use and closed when the pod goes away or the probe closes."""

    def __init__(self, ctx: ActionContext, namespace: str, model: str | None) -> None:
        self.ctx, self.namespace, self.model = ctx, namespace, model
        self._open: dict[str, tuple[AsyncExitStack, TritonClient]] = {}

    async def _client(self, pod: str) -> TritonClient:
        if pod not in self._open:
            from mlops_tui.backends.triton.client import TritonClient

            stack = AsyncExitStack()
            try:
                ref = ResourceRef(self.ctx.kind("pods"), pod, self.namespace)
                endpoint = await stack.enter_async_context(
                    reach.pod_endpoint(self.ctx, ref, "http"))
                client = TritonClient(endpoint, timeout_s=PROBE_TIMEOUT_S)
                stack.push_async_callback(client.close)
            except BaseException:
                await stack.aclose()
                raise
            self._open[pod] = (stack, client)
        return self._open[pod][1]

    async def _drop(self, pod: str) -> None:
        stack, _ = self._open.pop(pod)
        try:
            await stack.aclose()
        except BackendError:
            pass  # the pod is gone: closing its stream may fail, nothing is left open

    async def answers(self, pods: list[Obj]) -> dict[str, Answer]:
        """The model's state per pod name (None: not asked, e.g. not running yet)."""
        out: dict[str, Answer] = {}
        running = {p["metadata"]["name"] for p in pods if _started(p)}
        for pod in [p for p in self._open if p not in running]:
            await self._drop(pod)
        for pod in sorted(running):
            try:
                out[pod] = await model_answer(await self._client(pod), self.model)
            except BackendError:  # not listening yet, or the forward broke: ask next time
                out[pod] = None
                if pod in self._open:
                    await self._drop(pod)
        return out

    async def close(self) -> None:
        for pod in list(self._open):
            await self._drop(pod)


def _involved(event: Obj, names: set[str]) -> bool:
    return ((event.get("involvedObject") or {}).get("name") or "") in names


async def observe(ctx: ActionContext, name: str, namespace: str,
                  answers: Callable[[list[Obj]], Awaitable[Mapping[str, Answer]]]
                  ) -> tuple[Verdict, Obj | None]:
    """One look at the deployment: (the verdict, the deployment or None)."""
    from mlops_tui.backends.deploy.verdict import readiness_verdict

    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    deployment, pods = await reach.deployment_pods(ctx, name, namespace)
    names = {name} | {(p.get("metadata") or {}).get("name", "") for p in pods}
    names |= {ref.get("name", "") for p in pods
              for ref in (p.get("metadata") or {}).get("ownerReferences") or ()}
    found = await reader.list_objects(ctx.kind("events"), namespace)
    try:
        endpoints: Obj | None = await reader.get_object(
            ResourceRef(ctx.kind("endpoints"), name, namespace))
    except NotFound:
        endpoints = None
    model_ready = await answers(pods) if deployment is not None else {}
    verdict = readiness_verdict(deployment, pods, [e for e in found if _involved(e, names)],
                                endpoints, model_ready, now=dt.datetime.now(dt.UTC))
    return verdict, deployment


async def served_kind(ctx: ActionContext, api_version: str, kind: str) -> KindInfo | None:
    """The kind as the cluster serves it; None when it serves no such kind."""
    backend = ctx.backend
    if isinstance(backend, Applier):  # may read discovery: off the event loop
        return await asyncio.to_thread(backend.kind_of, api_version, kind)
    return backend.resolve_kind(kind.lower())


Look = tuple["Verdict", Obj | None]


async def _look_deployment(ctx: ActionContext, name: str, namespace: str,
                           probe: ModelProbe) -> Look:
    if not isinstance(ctx.backend, PortForwarder):  # can wait for one only while it is absent
        from mlops_tui.backends.deploy.verdict import readiness_verdict

        deployment, _ = await reach.deployment_pods(ctx, name, namespace)
        if deployment is not None:
            reach.port_forwarder(ctx, PROBE_HINT)  # raises, saying so
        return readiness_verdict(None, [], [], None, {}, now=dt.datetime.now(dt.UTC)), None
    return await observe(ctx, name, namespace, probe.answers)


async def _look_isvc(ctx: ActionContext, name: str, namespace: str,
                     probe: ModelProbe) -> Look:
    """KServe's status on the InferenceService (``probe`` unused: KServe asks Triton)."""
    from mlops_tui.backends.deploy.isvc_verdict import isvc_verdict

    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    kind = await served_kind(ctx, KSERVE_API_VERSION, "InferenceService")  # no CRD: None
    found: Obj | None = None
    if kind is not None:
        try:
            found = await reader.get_object(ResourceRef(kind, name, namespace))
        except NotFound:
            found = None
    return isvc_verdict(found), found


@dataclass(frozen=True, slots=True)
class Workload:
    """A kind deploy makes that serves the models, and how its verdict is read."""

    api_version: str
    kind: str
    look: Callable[[ActionContext, str, str, ModelProbe], Awaitable[Look]]
    probes: bool  # asks Triton in the pods itself: needs a port-forward

    @property
    def label(self) -> str:
        return self.kind.lower()


WORKLOADS = (Workload("apps/v1", "Deployment", _look_deployment, probes=True),
             Workload(KSERVE_API_VERSION, "InferenceService", _look_isvc, probes=False))


def workloads(kinds: Collection[str] | None = None) -> tuple[Workload, ...]:
    """The workloads among ``kinds`` (kind names such as deploy's applied objects carry);
    None: every one. Never empty: the Deployment when none of ``kinds`` serves."""
    chosen = tuple(w for w in WORKLOADS if kinds is None or w.kind in kinds)
    return chosen or WORKLOADS[:1]


async def _look(ctx: ActionContext, name: str, namespace: str, probe: ModelProbe,
                candidates: tuple[Workload, ...]) -> tuple[Verdict, Obj | None, Workload]:
    """The first candidate that exists under ``name`` (else the first's verdict)."""
    first = None
    for workload in candidates:
        verdict, obj = await workload.look(ctx, name, namespace, probe)
        if obj is not None:
            return verdict, obj, workload
        first = first or (verdict, obj, workload)
    assert first is not None  # workloads() is never empty
    return first


def _fraction(verdict: Verdict, workload: Obj | None) -> float | None:
    wanted = ((workload or {}).get("spec") or {}).get("replicas")
    if not isinstance(wanted, int) or wanted <= 0:
        return None
    return sum(r.state == "Ready" for r in verdict.replicas) / wanted


def _data(kind: str, name: str, namespace: str, verdict: Verdict,
          elapsed: float) -> dict[str, Any]:
    return {"kind": kind, "name": name, "namespace": namespace, "state": verdict.state,
            "summary": verdict.summary, "elapsed_s": round(elapsed, 3),
            "replicas": [{"pod": r.pod, "state": r.state, "reason": r.reason}
                         for r in verdict.replicas]}


def _lines(verdict: Verdict) -> list[str]:
    return [f"{r.pod}: {r.state}" + (f" ({r.reason})" if r.reason else "")
            for r in verdict.replicas]


async def follow(ctx: ActionContext, name: str, namespace: str, model: str | None,
                 timeout: float, kinds: Collection[str] | None = None
                 ) -> AsyncIterator[ActionEvent]:
    """Poll the verdict until Ready (ok), terminal or the timeout (CheckFailed).

    Args:
        model: the model to ask Triton about; None: the whole repository. (KServe's
            status covers the whole InferenceService.)
        timeout: seconds.
        kinds: which workload kinds to follow (see :func:`workloads`); None: whichever
            exists under ``name``, looked for in :data:`WORKLOADS` order until one does.

    Raises:
        CheckFailed: the verdict is terminal, or the timeout passed (the last verdict).
        ConfigError: the workload is a Deployment and the backend cannot port-forward.
    """
    candidates = workloads(kinds)
    if not isinstance(ctx.backend, PortForwarder):  # only a kind needing no probe can serve
        unprobed = [w for w in candidates if not w.probes
                    and await served_kind(ctx, w.api_version, w.kind) is not None]
        if not unprobed:
            reach.port_forwarder(ctx, PROBE_HINT)  # raises, saying so
    probe = ModelProbe(ctx, namespace, model)
    start = ctx.clock()
    last = None
    try:
        while True:
            verdict, obj, workload = await _look(ctx, name, namespace, probe, candidates)
            if obj is not None and len(candidates) > 1:
                candidates = (workload,)  # found: follow that one
                if workload.probes:
                    reach.port_forwarder(ctx, PROBE_HINT)
            data = _data(workload.kind, name, namespace, verdict, ctx.clock() - start)
            if verdict.ready:
                break
            if verdict.terminal:
                raise CheckFailed(f"{workload.label} {namespace}/{name}: {verdict.summary}",
                                  data=data)
            shown = (verdict.summary, tuple(_lines(verdict)))
            if shown != last:
                last = shown
                yield events.progress(verdict.summary, _fraction(verdict, obj), data)
                for line in shown[1]:
                    yield events.output(line)
            remaining = start + timeout - ctx.clock()
            if remaining <= 0:
                raise CheckFailed(f"timed out after {timeout:g}s waiting for "
                                  f"{workload.label} {namespace}/{name} to serve: "
                                  f"{verdict.summary}", data=data)
            await ctx.sleep(min(POLL_INTERVAL_S, remaining))
    finally:  # before the last event: a caller stops reading at ok, forwards stay closed
        await probe.close()
    yield events.ok(verdict.summary, data)
