"""deploy, undeploy, rollback: a Triton model server on the cluster, in one step each.

deploy: the repository check → what the cluster serves (ServiceMonitor, InferenceService)
→ the manifests (backends/deploy) → their schema → a server-side dry run and a diff of each
object against the live one, as ``apply`` does → with ``dry_run`` it stops there (the ok
event's data is ``{"manifests": [...], "diff": "..."}``) → server-side apply → unless
``wait: false``, the readiness verdict until the server serves (readiness.py), failing at
once when waiting cannot help. undeploy deletes what deploy made (found by its labels);
rollback restores an earlier pod template, as ``kubectl rollout undo`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import yaml
from pydantic import ConfigDict, Field, field_validator

from mlops_tui.backends.actions import diff, events, readiness, repository
from mlops_tui.backends.actions.apply import Target, _apply, _preview
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Name,
    Namespace,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.actions.manifests import Manifest
from mlops_tui.backends.deploy.objects import MANAGED_BY, MANAGED_LABEL, NAME_LABEL
from mlops_tui.backends.deploy.spec import DeploySpec
from mlops_tui.backends.errors import ConfigError, NotFound, ReadOnlyError
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import Applier, Deleter, ObjectReader, PortForwarder

DEFAULT_TIMEOUT_S = 600.0
SERVICE_MONITOR = ("monitoring.coreos.com/v1", "ServiceMonitor")
INFERENCE_SERVICE = ("serving.kserve.io/v1beta1", "InferenceService")
# What deploy can make, in the order undeploy deletes it (the workload first).
MANAGED_KINDS = (INFERENCE_SERVICE, ("apps/v1", "Deployment"), ("v1", "Service"),
                 SERVICE_MONITOR, ("v1", "ConfigMap"))
CLAIM = ("v1", "PersistentVolumeClaim")
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


class UndeployRequest(Request):
    name: Name
    namespace: Namespace | None = None
    delete_claim: bool = False  # also the claim deploy created (its data goes with it)


class RollbackRequest(Request):
    name: Name
    namespace: Namespace | None = None
    revision: int | None = Field(default=None, ge=1, le=2**31 - 1)  # default: the previous
    wait: bool = True
    timeout: Duration = DEFAULT_TIMEOUT_S


def _namespace(ctx: ActionContext, namespace: str | None) -> str:
    return namespace or ctx.namespace or "default"


def _version(ctx: ActionContext) -> str:
    """The cluster's ``major.minor`` for the schemas (``v1.20.2`` → ``1.20``)."""
    version = ctx.backend.info().version.lstrip("v")
    return ".".join(version.split(".")[:2]) or "1.20"


def _spec(ctx: ActionContext, req: DeployRequest) -> DeploySpec:
    fields = req.model_dump(exclude=set(_OWN))
    return DeploySpec.model_validate({**fields, "namespace": _namespace(ctx, req.namespace)})


async def _features(applier: Applier) -> Any:
    from mlops_tui.backends.deploy.manifests import ClusterFeatures

    def served(api_kind: tuple[str, str]) -> bool:
        return applier.kind_of(*api_kind) is not None
    monitor, isvc = await asyncio.to_thread(lambda: (served(SERVICE_MONITOR),
                                                     served(INFERENCE_SERVICE)))
    return ClusterFeatures(service_monitor=monitor, inference_service=isvc)


async def _checked_repository(ctx: ActionContext, spec: DeploySpec
                              ) -> AsyncIterator[ActionEvent]:
    """The repository check's lines; CheckFailed when it found problems."""
    if spec.source.kind == "pvc" and spec.pvc_size:
        yield events.warning(f"{spec.source.uri}: the claim is created by this deploy; "
                             "its contents are not checked")
        return
    checked = await repository.check(ctx, spec.model_repository, spec.namespace)
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


def _schema_problems(manifests: list[dict[str, Any]], version: str) -> list[str]:
    from mlops_tui.backends.deploy.schema import schema_errors

    return [line for manifest in manifests for line in schema_errors(manifest, version)]


async def _targets(applier: Applier, manifests: list[dict[str, Any]], name: str
                   ) -> list[Target]:
    def target(body: dict[str, Any]) -> Target:
        kind = applier.kind_of(body["apiVersion"], body["kind"])
        if kind is None:
            raise ConfigError(f"the cluster serves no kind {body['kind']} in "
                              f"{body['apiVersion']}")
        meta = body["metadata"]
        return Target(Manifest(f"deploy {name}", body),
                      ResourceRef(kind, meta["name"], meta.get("namespace", "")), body)
    return [await asyncio.to_thread(target, body) for body in manifests]


def _yaml(manifests: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False, width=120)


async def run_deploy(ctx: ActionContext, req: DeployRequest) -> AsyncIterator[ActionEvent]:
    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    if not req.dry_run and ctx.backend.readonly:
        raise ReadOnlyError(f"read-only mode: deploy of {req.name} refused")
    spec = _spec(ctx, req)
    for note in spec.notes():
        yield events.warning(note)
    async for event in _checked_repository(ctx, spec):
        yield event
    manifests = await _manifests(ctx, applier, spec)
    problems = await asyncio.to_thread(_schema_problems, manifests, _version(ctx))
    if problems:
        for line in problems:
            yield events.output(line)
        raise CheckFailed(f"{len(problems)} schema error{'s' if len(problems) != 1 else ''} "
                          "in the manifests", data={"problems": problems})
    targets = await _targets(applier, manifests, spec.name)
    done: list[dict[str, Any]] = []
    diffs: list[str] = []
    outcomes = []
    for target in targets:
        live, merged = await _preview(applier, reader, target, ctx.field_manager, True, done)
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
        await _apply(applier, target, ctx.field_manager, dry_run=False, force=True, done=done)
        ref = target.ref
        done.append({"kind": ref.kind.kind, "name": ref.name, "namespace": ref.namespace,
                     "result": outcome})
        yield events.progress(f"{target.label} {outcome}", None, done[-1])
    async for event in _follow(ctx, spec.name, spec.namespace, req.wait and spec.replicas > 0
                               and spec.runtime == "triton", req.timeout, done):
        yield event


async def _follow(ctx: ActionContext, name: str, namespace: str, wait: bool, timeout: float,
                  done: list[dict[str, Any]]) -> AsyncIterator[ActionEvent]:
    """The readiness verdict until the server serves, then ok with what was applied."""
    if not wait:
        yield events.ok(f"{namespace}/{name}: {len(done)} objects applied", {"objects": done})
        return
    if not isinstance(ctx.backend, PortForwarder):
        raise ConfigError(f"the {ctx.backend.name} backend cannot port-forward to ask Triton "
                          "whether the models loaded: deploy with wait: false")
    verdict: dict[str, Any] = {}
    async for event in readiness.follow(ctx, name, namespace, None, timeout):
        if event.terminal:
            verdict = event.data
            break
        yield event
    yield events.ok(f"{namespace}/{name}: {verdict.get('summary', 'Ready')}",
                    {"objects": done, "verdict": verdict})


async def run_undeploy(ctx: ActionContext, req: UndeployRequest) -> AsyncIterator[ActionEvent]:
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    deleter: Deleter = ctx.capability(Deleter, "delete objects")
    if ctx.backend.readonly:
        raise ReadOnlyError(f"read-only mode: undeploy of {req.name} refused")
    namespace = _namespace(ctx, req.namespace)
    applier = ctx.backend if isinstance(ctx.backend, Applier) else None
    selector = f"{NAME_LABEL}={req.name},{MANAGED_LABEL}={MANAGED_BY}"
    kinds = [*MANAGED_KINDS, CLAIM] if req.delete_claim else list(MANAGED_KINDS)
    deleted: list[dict[str, str]] = []
    for api_version, kind_name in kinds:
        kind = (await asyncio.to_thread(applier.kind_of, api_version, kind_name) if applier
                else ctx.backend.resolve_kind(kind_name.lower()))
        if kind is None:
            continue  # not served here: deploy made none
        for obj in await reader.list_objects(kind, namespace, label_selector=selector):
            ref = ResourceRef(kind, obj["metadata"]["name"], namespace)
            try:
                await deleter.delete(ref)
            except NotFound:
                continue  # gone meanwhile (a controller's cascade)
            deleted.append({"kind": kind.kind, "name": ref.name, "namespace": namespace})
            yield events.progress(f"{kind.kind.lower()}/{ref.name} deleted", None, deleted[-1])
    if not deleted:
        yield events.warning(f"nothing deployed as {req.name} in namespace {namespace}")
    yield events.ok(f"{namespace}/{req.name}: {len(deleted)} objects deleted", deleted)


def _restore(deployment: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """The whole deployment as we apply it, with ``template`` as its pod template: a
    partial apply would drop the fields this field manager set before (replicas, selector)."""
    from mlops_tui.backends.render.describe_workloads import REVISION

    meta = deployment.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in (REVISION, "kubectl.kubernetes.io/last-applied-configuration")}
    keep = {k: meta[k] for k in ("name", "namespace", "labels") if k in meta}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {**keep, **({"annotations": annotations} if annotations else {})},
            "spec": {**(deployment.get("spec") or {}), "template": template}}


async def run_rollback(ctx: ActionContext, req: RollbackRequest) -> AsyncIterator[ActionEvent]:
    from mlops_tui.backends.deploy.rollback import rollback_target

    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    if ctx.backend.readonly:
        raise ReadOnlyError(f"read-only mode: rollback of {req.name} refused")
    namespace = _namespace(ctx, req.namespace)
    deployment, _ = await readiness.reach.deployment_pods(ctx, req.name, namespace)
    if deployment is None:
        raise CheckFailed(f"deployment {namespace}/{req.name} does not exist")
    sets = await reader.list_objects(ctx.kind("replicasets"), namespace)
    try:
        revision, template = rollback_target(deployment, sets, req.revision)
    except ValueError as exc:
        raise CheckFailed(f"deployment {namespace}/{req.name}: {exc}") from None
    await applier.apply(_restore(deployment, template), namespace=namespace,
                        field_manager=ctx.field_manager, force=True)
    done = [{"kind": "Deployment", "name": req.name, "namespace": namespace,
             "result": f"rolled back to revision {revision}"}]
    yield events.progress(f"deployment.apps/{req.name} rolled back to revision {revision}",
                          None, done[0])
    async for event in _follow(ctx, req.name, namespace, req.wait, req.timeout, done):
        yield event


SPECS = (
    ActionSpec("deploy", DeployRequest, run_deploy,
               "deploy a Triton model server (checked, dry-run and diffed first)",
               mutating=True),
    ActionSpec("undeploy", UndeployRequest, run_undeploy,
               "delete what deploy made for a model server", mutating=True),
    ActionSpec("rollback", RollbackRequest, run_rollback,
               "roll a model server back to an earlier revision", mutating=True),
)
