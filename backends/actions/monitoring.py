"""monitoring: Prometheus, the DCGM exporter, node-exporter and Grafana on the cluster.

The manifests (backends/monitoring) → their schema (kubernetes-validate) → a server-side
dry run and a diff of each object against the live one → with ``dry_run`` it stops there
(the ok event's data is ``{"manifests": [...], "diff": "...", "objects": [...]}``) →
server-side apply with the field manager → unless ``wait: false``, the rollout of each
Deployment and DaemonSet, followed as ``wait {for: rollout}`` follows it → "Prometheus at
monitoring/prometheus:9090", where the panels' discovery finds it.

A namespace that does not exist yet cannot hold a dry-run object: on a real run it is
created first; on a dry run its objects are checked against the schema only, and a warning
says so. The provisioner's monitoring step calls :func:`install_monitoring`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import ConfigDict

from mlops_tui.backends.actions import diff, events
from mlops_tui.backends.actions import wait as wait_action
from mlops_tui.backends.actions.apply import Target, apply_target, preview_target
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Request,
    execute,
)
from mlops_tui.backends.actions.deploy import apply_targets, check_schema
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.errors import BackendError, NotFound
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.monitoring.manifests import build_manifests
from mlops_tui.backends.monitoring.spec import MonitoringSpec
from mlops_tui.backends.protocols import Applier, ObjectReader

DEFAULT_TIMEOUT_S = 300.0
ROLLOUT_KINDS = ("Deployment", "DaemonSet")
_OWN = frozenset({"dry_run", "wait", "timeout"})  # how the step runs, not what it makes


class MonitoringRequest(MonitoringSpec, Request):
    """A MonitoringSpec, and how the step runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool = False  # schema, server dry run and diff; change nothing
    wait: bool = True  # follow each Deployment's and DaemonSet's rollout
    timeout: Duration = DEFAULT_TIMEOUT_S  # for all rollouts together


async def _exists(reader: ObjectReader, ref: ResourceRef) -> bool:
    try:
        await reader.get_object(ref)
    except NotFound:
        return False
    return True


async def _gpu_nodes_warning(ctx: ActionContext, spec: MonitoringSpec) -> str | None:
    """A warning when no node carries the GPU label (the exporter would run nowhere)."""
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    try:
        nodes = await reader.list_objects(ctx.kind("nodes"), "",
                                          label_selector=spec.gpu_node_label)
    except BackendError:  # may not list nodes: nothing to say
        return None
    if nodes:
        return None
    return (f"no node is labelled {spec.gpu_node_label}: the DCGM exporter runs on none "
            "until GPU nodes carry it (or set gpu_node_label)")


def _record(target: Target, outcome: str) -> dict[str, Any]:
    ref = target.ref
    return {"kind": ref.kind.kind, "name": ref.name, "namespace": ref.namespace,
            "result": outcome}


async def _preview(ctx: ActionContext, targets: list[Target], namespace_exists: bool,
                   done: list[dict[str, Any]]
                   ) -> AsyncIterator[tuple[Target, dict[str, Any] | None, dict[str, Any]]]:
    """(target, live, merged) per object: the server's dry-run answer where it can give one;
    the manifest itself for a namespaced object whose namespace is not there yet."""
    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    for target in targets:
        if target.ref.namespace and not namespace_exists:
            yield target, None, target.body
        else:
            live, merged = await preview_target(applier, reader, target, ctx.field_manager,
                                                True, done)
            yield target, live, merged


async def _rollouts(ctx: ActionContext, req: MonitoringRequest,
                    targets: list[Target]) -> AsyncIterator[ActionEvent]:
    """Each Deployment's and DaemonSet's rollout, as ``wait {for: rollout}`` follows it,
    within one deadline for all."""
    deadline = ctx.clock() + req.timeout
    for target in (t for t in targets if t.body["kind"] in ROLLOUT_KINDS):
        remaining = deadline - ctx.clock()
        if remaining <= 0:
            raise CheckFailed(f"timed out after {req.timeout:g}s before the rollout of "
                              f"{target.label} was followed")
        wait_req = wait_action.WaitRequest.model_validate({
            "kind": target.body["kind"].lower(), "name": target.ref.name,
            "namespace": target.ref.namespace, "for": "rollout",
            "timeout": max(round(remaining, 1), 0.1)})  # said in its messages: kept short
        async for event in wait_action.run_wait(ctx, wait_req):
            if event.terminal:  # one rollout done: the step goes on
                yield events.progress(f"{target.label}: {event.message}", data=event.data)
            else:
                yield event


async def run_monitoring(ctx: ActionContext, req: MonitoringRequest
                         ) -> AsyncIterator[ActionEvent]:
    """The ``monitoring`` action (see the module docstring).

    Raises:
        ReadOnlyError: the session is read-only and this is no dry run.
        CheckFailed: a schema error, a manifest the server refused, a rollout that did not
            finish in time.
        ConfigError: the cluster serves a kind the stack needs in no version it knows.
    """
    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    if not req.dry_run:
        ctx.check_writable(f"monitoring in {req.namespace}")
    spec = MonitoringSpec.model_validate(req.model_dump(exclude=set(_OWN)))
    manifests = build_manifests(spec)
    async for event in check_schema(ctx, manifests, "the monitoring manifests"):
        yield event
    if "dcgm" in spec.components:
        warning = await _gpu_nodes_warning(ctx, spec)
        if warning:
            yield events.warning(warning)
    targets = await apply_targets(applier, manifests, "monitoring")
    namespace, rest = targets[0], targets[1:]  # build_manifests puts the namespace first
    done: list[dict[str, Any]] = []
    namespace_exists = await _exists(reader, namespace.ref)
    if not namespace_exists and req.dry_run:
        yield events.warning(f"namespace {spec.namespace} does not exist yet: its objects "
                             "were checked against the schema, not dry-run on the server")
    if not namespace_exists and not req.dry_run:  # its objects' dry run needs it
        await apply_target(applier, namespace, ctx.field_manager, dry_run=False, force=True,
                           done=done)
        done.append(_record(namespace, "created"))
        yield events.progress(f"{namespace.label} created", None, done[-1])
        namespace_exists, targets = True, rest
    diffs: list[str] = []
    outcomes = []
    async for target, live, merged in _preview(ctx, targets, namespace_exists, done):
        lines = diff.diff_lines(live, merged, target.label)
        diffs += lines
        if req.dry_run or live is not None:  # a new object's "diff" is all of it
            for line in lines:
                yield events.output(line)
        outcomes.append((target, "created" if live is None else
                         "configured" if diff.changed(live, merged) else "unchanged"))
    if req.dry_run:
        records = [_record(t, o) for t, o in outcomes]
        yield events.ok(f"dry run: {len(manifests)} objects valid, "
                        f"{sum(o != 'unchanged' for _, o in outcomes)} would change",
                        {"manifests": manifests, "diff": "\n".join(diffs), "objects": records})
        return
    for index, (target, outcome) in enumerate(outcomes):
        await apply_target(applier, target, ctx.field_manager, dry_run=False, force=True,
                           done=done)
        done.append(_record(target, outcome))
        yield events.progress(f"{target.label} {outcome}", (index + 1) / len(outcomes),
                              done[-1])
    if req.wait:
        async for event in _rollouts(ctx, req, targets):
            yield event
    data: dict[str, Any] = {"objects": done}
    message = f"{spec.namespace}: {len(done)} objects applied"
    if "prometheus" in spec.components:
        data["prometheus"] = f"{spec.namespace}/prometheus:9090"
        message = f"Prometheus at {data['prometheus']}"
    if "grafana" in spec.components:
        data["grafana"] = f"{spec.namespace}/grafana:3000"
    yield events.ok(message, data)


def install_monitoring(ctx: ActionContext, **options: Any) -> AsyncIterator[ActionEvent]:
    """The monitoring step for a caller outside the script runner (the provisioner).

    Args:
        options: the request's fields (``namespace``, ``components``, ``registry``,
            ``images``, ``wait``, ...); none: the whole stack in ``monitoring``.

    Returns:
        The action's events: ``started``, its progress, then exactly one ``ok`` or
        ``failed`` (never raised, as :func:`execute` guarantees).

    Raises:
        pydantic.ValidationError: an option is not a valid request field.
    """
    return execute(SPECS[0], ctx, MonitoringRequest.model_validate(options))


SPECS = (
    ActionSpec("monitoring", MonitoringRequest, run_monitoring,
               "install Prometheus, the DCGM exporter, node-exporter and Grafana "
               "(checked, dry-run and diffed first)", mutating=True),
)
