"""Follow a model server deployment until it serves, or until waiting cannot help.

Each poll reads the deployment, its pods, the namespace's events about them and the
Service's endpoints (ObjectReader), asks Triton on every running pod whether the model is
ready (through a port-forward per pod, kept open across polls, see :class:`ModelProbe`),
and hands everything to the pure ``readiness_verdict``. ``wait {for: model_ready}`` and
``deploy`` (after the apply) both stream :func:`follow`: a progress line each time the
verdict changes, ok when it is Ready, a check failure at once when it is terminal (a crash
loop, an image that cannot be pulled, no node that fits, a model that failed to load) or
at the timeout with the last verdict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.actions import events, reach
from mlops_tui.backends.actions.base import ActionContext, CheckFailed
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.errors import BackendError, NotFound
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import ObjectReader

if TYPE_CHECKING:  # the client loads tritonclient: only when a probe really runs
    from mlops_tui.backends.deploy.verdict import Verdict
    from mlops_tui.backends.triton.client import TritonClient

POLL_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 5.0
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


def _fraction(verdict: Verdict, deployment: Obj | None) -> float | None:
    wanted = ((deployment or {}).get("spec") or {}).get("replicas")
    if not isinstance(wanted, int) or wanted <= 0:
        return None
    return sum(r.state == "Ready" for r in verdict.replicas) / wanted


def _data(name: str, namespace: str, verdict: Verdict, elapsed: float) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "state": verdict.state,
            "summary": verdict.summary, "elapsed_s": round(elapsed, 3),
            "replicas": [{"pod": r.pod, "state": r.state, "reason": r.reason}
                         for r in verdict.replicas]}


def _lines(verdict: Verdict) -> list[str]:
    return [f"{r.pod}: {r.state}" + (f" ({r.reason})" if r.reason else "")
            for r in verdict.replicas]


async def follow(ctx: ActionContext, name: str, namespace: str, model: str | None,
                 timeout: float) -> AsyncIterator[ActionEvent]:
    """Poll the verdict until Ready (ok), terminal or the timeout (CheckFailed).

    Args:
        model: the model to ask Triton about; None: the whole repository.
        timeout: seconds.

    Raises:
        CheckFailed: the verdict is terminal, or the timeout passed (the last verdict).
        ConfigError: the backend cannot port-forward.
    """
    reach.port_forwarder(ctx, "Triton in the pods cannot be asked whether the models "
                              "loaded")
    probe = ModelProbe(ctx, namespace, model)
    start = ctx.clock()
    last = None
    try:
        while True:
            verdict, deployment = await observe(ctx, name, namespace, probe.answers)
            data = _data(name, namespace, verdict, ctx.clock() - start)
            if verdict.ready:
                break
            if verdict.terminal:
                raise CheckFailed(f"deployment {namespace}/{name}: {verdict.summary}",
                                  data=data)
            shown = (verdict.summary, tuple(_lines(verdict)))
            if shown != last:
                last = shown
                yield events.progress(verdict.summary, _fraction(verdict, deployment), data)
                for line in shown[1]:
                    yield events.output(line)
            remaining = start + timeout - ctx.clock()
            if remaining <= 0:
                raise CheckFailed(f"timed out after {timeout:g}s waiting for deployment "
                                  f"{namespace}/{name} to serve: {verdict.summary}", data=data)
            await ctx.sleep(min(POLL_INTERVAL_S, remaining))
    finally:  # before the last event: a caller stops reading at ok, forwards stay closed
        await probe.close()
    yield events.ok(verdict.summary, data)
