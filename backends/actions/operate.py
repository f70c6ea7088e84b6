"""Actions that change objects: scale, delete, restart, cordon / uncordon, drain."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import Field

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import ActionContext, ActionSpec, ObjectRequest
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.protocols import Deleter, NodeOperator, Restarter, Scaler

# Far above any real workload, far below what would make a cluster (or the demo) grind:
# a typo of extra zeros is refused with a message instead of being sent.
MAX_REPLICAS = 10_000


class ScaleRequest(ObjectRequest):
    replicas: int = Field(ge=0, le=MAX_REPLICAS)


class DeleteRequest(ObjectRequest):
    force: bool = False  # grace period 0 (k9s's kill)


class NodeRequest(ObjectRequest):
    kind: str = "nodes"


async def run_scale(ctx: ActionContext, req: ScaleRequest) -> AsyncIterator[ActionEvent]:
    scaler: Scaler = ctx.capability(Scaler, "scale")
    ref = ctx.ref(req)
    await scaler.scale(ref, req.replicas)
    yield events.ok(f"scaled {ref} to {req.replicas}", {"replicas": req.replicas})


async def run_delete(ctx: ActionContext, req: DeleteRequest) -> AsyncIterator[ActionEvent]:
    deleter: Deleter = ctx.capability(Deleter, "delete")
    ref = ctx.ref(req)
    await deleter.delete(ref, force=req.force)
    yield events.ok(f"{'killed' if req.force else 'deleted'} {ref}")


async def run_restart(ctx: ActionContext, req: ObjectRequest) -> AsyncIterator[ActionEvent]:
    restarter: Restarter = ctx.capability(Restarter, "restart workloads")
    ref = ctx.ref(req)
    await restarter.restart(ref)
    yield events.ok(f"restarted {ref}")


def _cordon(unschedulable: bool):
    verb = "cordoned" if unschedulable else "uncordoned"

    async def run(ctx: ActionContext, req: NodeRequest) -> AsyncIterator[ActionEvent]:
        operator: NodeOperator = ctx.capability(NodeOperator, "cordon nodes")
        ref = ctx.ref(req)
        await operator.cordon(ref, unschedulable)
        yield events.ok(f"{verb} node {ref.name}")

    return run


async def run_drain(ctx: ActionContext, req: NodeRequest) -> AsyncIterator[ActionEvent]:
    operator: NodeOperator = ctx.capability(NodeOperator, "drain nodes")
    ref = ctx.ref(req)
    async for line in operator.drain(ref):
        yield events.output(line)
    yield events.ok(f"drained node {ref.name}")


SPECS = (
    ActionSpec("scale", ScaleRequest, run_scale, "set a workload's replicas", mutating=True),
    ActionSpec("delete", DeleteRequest, run_delete, "delete an object", mutating=True),
    ActionSpec("restart", ObjectRequest, run_restart, "rollout restart", mutating=True),
    ActionSpec("cordon", NodeRequest, _cordon(True), "mark a node unschedulable",
               mutating=True),
    ActionSpec("uncordon", NodeRequest, _cordon(False), "mark a node schedulable",
               mutating=True),
    ActionSpec("drain", NodeRequest, run_drain, "cordon a node and evict its pods",
               mutating=True),
)
