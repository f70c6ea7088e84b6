"""undeploy and rollback: what follows a deploy.

undeploy deletes every object deploy made for a name (found by the labels deploy puts on
each: ``app.kubernetes.io/name`` and ``app.kubernetes.io/managed-by``); the claim only when
asked, as its data goes with it. rollback restores an earlier pod template, as ``kubectl
rollout undo`` does (the revision math is backends/deploy/rollback.py), then follows the
readiness verdict as deploy does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from pydantic import Field

from mlops_tui.backends.actions import events, reach
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Name,
    Namespace,
    Request,
)
from mlops_tui.backends.actions.deploy import (
    DEFAULT_TIMEOUT_S,
    INFERENCE_SERVICE,
    SERVICE_MONITOR,
    follow,
    namespace_of,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.deploy.objects import MANAGED_BY, MANAGED_LABEL, NAME_LABEL
from mlops_tui.backends.errors import NotFound
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import Applier, Deleter, ObjectReader

# What deploy can make, in the order undeploy deletes it (the workload first).
MANAGED_KINDS = (INFERENCE_SERVICE, ("apps/v1", "Deployment"), ("v1", "Service"),
                 SERVICE_MONITOR, ("v1", "ConfigMap"), ("v1", "ServiceAccount"))
CLAIM = ("v1", "PersistentVolumeClaim")


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


async def run_undeploy(ctx: ActionContext, req: UndeployRequest) -> AsyncIterator[ActionEvent]:
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    deleter: Deleter = ctx.capability(Deleter, "delete objects")
    ctx.check_writable(f"undeploy of {req.name}")
    namespace = namespace_of(ctx, req.namespace)
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
    ctx.check_writable(f"rollback of {req.name}")
    namespace = namespace_of(ctx, req.namespace)
    deployment, _ = await reach.deployment_pods(ctx, req.name, namespace)
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
    async with aclosing(follow(ctx, req.name, namespace, req.wait, req.timeout,
                               done)) as stream:
        async for event in stream:
            yield event


SPECS = (
    ActionSpec("undeploy", UndeployRequest, run_undeploy,
               "delete what deploy made for a model server", mutating=True),
    ActionSpec("rollback", RollbackRequest, run_rollback,
               "roll a model server back to an earlier revision", mutating=True),
)
