"""deploy: a Triton model server on the cluster, in one step.

deploy: the repository check → what the cluster serves (ServiceMonitor, InferenceService)
→ the manifests (backends/deploy) → their schema → a server-side dry run and a diff of each
object against the live one, as ``apply`` does → with ``dry_run`` it stops there (the ok
event's data is ``{"manifests": [...], "diff": "..."}``) → server-side apply → unless
``wait: false``, the readiness verdict until the server serves (readiness.py), failing at
once when waiting cannot help (a Deployment's pods and Triton's answer; an InferenceService's
status as KServe writes it). undeploy and rollback are in deployment_ops.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import yaml
from pydantic import ConfigDict, field_validator

from mlops_tui.backends.actions import diff, events, readiness, repository
from mlops_tui.backends.actions.apply import Target, apply_target, preview_target
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Namespace,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.actions.manifests import Manifest
from mlops_tui.backends.deploy.spec import DeploySpec
from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import Applier, ObjectReader, PortForwarder

DEFAULT_TIMEOUT_S = 300.0  # under the script step's own 10 min: the verdict is told, not a cut
SERVICE_MONITOR = ("monitoring.coreos.com/v1", "ServiceMonitor")
INFERENCE_SERVICE = ("serving.kserve.io/v1beta1", "InferenceService")
# Step options, not part of what is deployed.
_OWN = frozenset({"dry_run", "wait", "timeout"})


class DeployRequest(DeploySpec, Request):
    """A DeploySpec, and how the step runs. ``namespace`` defaults to the session's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: Namespace | None = None  # type: ignore[assignment]
    dry_run: bool = False  # validate, dry-run and diff on the server; change nothing
    wait: bool = True  # follow the rollout until the server serves
    timeout: Duration = DEFAULT_TIMEOUT_S

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:  # checked by Namespace
        return value


def namespace_of(ctx: ActionContext, namespace: str | None) -> str:
    return namespace or ctx.namespace or "default"


def _version(ctx: ActionContext) -> str:
    """The cluster's ``major.minor`` for the schemas (``v1.20.2`` → ``1.20``)."""
    version = ctx.backend.info().version.lstrip("v")
    return ".".join(version.split(".")[:2]) or "1.20"


def _spec(ctx: ActionContext, req: DeployRequest) -> DeploySpec:
    fields = req.model_dump(exclude=set(_OWN))
    return DeploySpec.model_validate({**fields, "namespace": namespace_of(ctx, req.namespace)})


async def _features(applier: Applier) -> Any:
    from mlops_tui.backends.deploy.manifests import ClusterFeatures

    def served(api_kind: tuple[str, str]) -> bool:
        return applier.kind_of(*api_kind) is not None
    monitor, isvc = await asyncio.to_thread(lambda: (served(SERVICE_MONITOR),
                                                     served(INFERENCE_SERVICE)))
    return ClusterFeatures(service_monitor=monitor, inference_service=isvc)


async def _checked_repository(ctx: ActionContext, spec: DeploySpec
                              ) -> AsyncIterator[ActionEvent]:
    """The repository check's lines; CheckFailed when it found problems.

    A local folder is checked in full and a claim must exist. A bucket is not read here:
    the server reads it with its own credentials (``s3_secret`` or the node's role), which
    this machine may not have; the check_repository step reads it with this machine's.
    """
    if spec.source.kind == "pvc" and spec.pvc_size:
        yield events.warning(f"{spec.source.uri}: the claim is created by this deploy; "
                             "its contents are not checked")
        return
    if spec.source.kind == "s3":
        yield events.warning(f"{spec.source.uri}: not read by deploy (the server reads it "
                             "with its own credentials); check_repository reads it from "
                             "here")
        return
    checked = await repository.check(ctx, spec.model_repository, spec.namespace,
                                     pending_ok=True)
    for line in checked.warnings:
        yield events.warning(line)
    for line in checked.problems:
        yield events.output(line)
    if checked.problems:
        raise CheckFailed(repository.problems_message(checked),
                          data={"problems": checked.problems})


async def _manifests(ctx: ActionContext, applier: Applier, spec: DeploySpec
                     ) -> list[dict[str, Any]]:
    from mlops_tui.backends.deploy.manifests import build_manifests
    from mlops_tui.backends.deploy.repository import read_repository

    files = None
    try:
        if spec.source.kind == "local":
            files = await asyncio.to_thread(read_repository,
                                            repository.local_path(ctx, spec.source))
        return build_manifests(spec, await _features(applier), repository_files=files)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


async def check_schema(ctx: ActionContext, manifests: list[dict[str, Any]], what: str
                       ) -> AsyncIterator[ActionEvent]:
    """Every manifest against the OpenAPI schema of the cluster's version: one output line
    per problem, then CheckFailed naming ``what`` ("the manifests")."""
    from mlops_tui.backends.deploy.schema import schema_errors

    def problems_of() -> list[str]:
        version = _version(ctx)
        return [line for manifest in manifests for line in schema_errors(manifest, version)]

    problems = await asyncio.to_thread(problems_of)
    if problems:
        for line in problems:
            yield events.output(line)
        raise CheckFailed(f"{len(problems)} schema error{'s' if len(problems) != 1 else ''} "
                          f"in {what}", data={"problems": problems})


async def apply_targets(applier: Applier, manifests: list[dict[str, Any]], source: str
                        ) -> list[Target]:
    """The apply targets of ``manifests`` (``source`` names them in messages: "deploy x").

    Raises:
        ConfigError: the cluster serves no such kind.
    """
    def target(body: dict[str, Any]) -> Target:
        kind = applier.kind_of(body["apiVersion"], body["kind"])
        if kind is None:
            raise ConfigError(f"the cluster serves no kind {body['kind']} in "
                              f"{body['apiVersion']}")
        meta = body["metadata"]
        return Target(Manifest(source, body),
                      ResourceRef(kind, meta["name"], meta.get("namespace", "")), body)
    return [await asyncio.to_thread(target, body) for body in manifests]


def _yaml(manifests: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False, width=120)


async def run_deploy(ctx: ActionContext, req: DeployRequest) -> AsyncIterator[ActionEvent]:
    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    if not req.dry_run:
        ctx.check_writable(f"deploy of {req.name}")
    spec = _spec(ctx, req)
    for note in spec.notes():
        yield events.warning(note)
    async for event in _checked_repository(ctx, spec):
        yield event
    manifests = await _manifests(ctx, applier, spec)
    async for event in check_schema(ctx, manifests, "the manifests"):
        yield event
    targets = await apply_targets(applier, manifests, f"deploy {spec.name}")
    done: list[dict[str, Any]] = []
    diffs: list[str] = []
    outcomes = []
    for target in targets:
        live, merged = await preview_target(applier, reader, target, ctx.field_manager, True, done)
        diffs += diff.diff_lines(live, merged, target.label)
        outcomes.append((target, "created" if live is None else
                         "configured" if diff.changed(live, merged) else "unchanged"))
    if req.dry_run:
        for line in _yaml(manifests).splitlines():
            yield events.output(line)
        for line in diffs:
            yield events.output(line)
        yield events.ok(f"dry run: {len(manifests)} objects valid, "
                        f"{sum(o != 'unchanged' for _, o in outcomes)} would change",
                        {"manifests": manifests, "diff": "\n".join(diffs)})
        return
    for line in diffs:
        yield events.output(line)
    for target, outcome in outcomes:
        await apply_target(applier, target, ctx.field_manager, dry_run=False, force=True, done=done)
        ref = target.ref
        done.append({"kind": ref.kind.kind, "name": ref.name, "namespace": ref.namespace,
                     "result": outcome})
        yield events.progress(f"{target.label} {outcome}", None, done[-1])
    wait = req.wait and spec.replicas > 0
    async with aclosing(follow(ctx, spec.name, spec.namespace, wait, req.timeout,
                               done)) as stream:
        async for event in stream:
            yield event


async def follow(ctx: ActionContext, name: str, namespace: str, wait: bool, timeout: float,
                  done: list[dict[str, Any]]) -> AsyncIterator[ActionEvent]:
    """The readiness verdict until the server serves, then ok with what was applied."""
    if not wait:
        yield events.ok(f"{namespace}/{name}: {len(done)} objects applied", {"objects": done})
        return
    kinds = {str(obj.get("kind")) for obj in done}  # the workload deploy made picks the verdict
    probes = any(w.probes for w in readiness.workloads(kinds))
    if probes and not isinstance(ctx.backend, PortForwarder):
        raise ConfigError(f"the {ctx.backend.name} backend cannot port-forward to ask Triton "
                          "whether the models loaded: deploy with wait: false")
    verdict: dict[str, Any] = {}
    # closed at once when the step is cancelled: its port-forwards with it
    async with aclosing(readiness.follow(ctx, name, namespace, None, timeout,
                                         kinds)) as stream:
        async for event in stream:
            if event.terminal:
                verdict = event.data
                break
            yield event
    yield events.ok(f"{namespace}/{name}: {verdict.get('summary', 'Ready')}",
                    {"objects": done, "verdict": verdict})


SPECS = (
    ActionSpec("deploy", DeployRequest, run_deploy,
               "deploy a Triton model server (checked, dry-run and diffed first)",
               mutating=True),
)
