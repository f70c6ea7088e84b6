"""apply: manifest files to the cluster, kubectl's way: a diff first, then server-side apply.

For each object: a server-side dry-run apply gives the object as it would be; its diff
against the live object is streamed line by line; then, unless ``dry_run``, the real apply
(with a field manager; ``force`` takes over fields another manager owns). Every file is
parsed and every kind resolved before the first request, so a typo fails before anything
changes. A manifest the server rejects fails the step as a check ("apply rejected").
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from mlops_tui.backends.actions import diff, events, manifests
from mlops_tui.backends.actions.base import (
    ENVIRONMENT_ERRORS,
    ActionContext,
    ActionSpec,
    CheckFailed,
    Namespace,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.actions.manifests import Manifest
from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    Conflict,
    Invalid,
    NotFound,
)
from mlops_tui.backends.models import KindInfo, ResourceRef
from mlops_tui.backends.protocols import Applier, ObjectReader

# The API server's own limit on a field manager's name.
FIELD_MANAGER_MAX = 128
# Dry runs repeated at most this often while the object keeps changing under the diff.
PREVIEW_TRIES = 3


class ApplyRequest(Request):
    path: str = Field(min_length=1)  # a manifest file or a directory of them
    namespace: Namespace | None = None  # for objects that name none (default: the session's)
    dry_run: bool = False  # server-side dry run: validated and diffed, nothing changes
    diff: bool = True
    force: bool = False  # take over fields another field manager owns
    field_manager: str | None = Field(default=None, min_length=1,
                                      max_length=FIELD_MANAGER_MAX,
                                      pattern=r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class Target:
    """One manifest, resolved: the served kind, the namespace it goes to, the body sent."""

    manifest: Manifest
    ref: ResourceRef
    body: dict[str, Any]

    @property
    def label(self) -> str:
        """kubectl's way of naming it: ``deployment.apps/web``."""
        kind = self.ref.kind
        group = f".{kind.group}" if kind.group else ""
        return f"{kind.singular or kind.kind.lower()}{group}/{self.ref.name}"


def _namespace_for(manifest: Manifest, kind: KindInfo, ctx: ActionContext,
                   req: ApplyRequest) -> str:
    if not kind.namespaced:
        return ""
    if req.namespace and manifest.namespace and manifest.namespace != req.namespace:
        raise ConfigError(f"{manifest.source}: the object's namespace {manifest.namespace!r} "
                          f"does not match the namespace {req.namespace!r} asked for")
    return manifest.namespace or req.namespace or ctx.namespace or "default"


def _target(applier: Applier, manifest: Manifest, ctx: ActionContext,
            req: ApplyRequest) -> Target:
    api_version, kind_name = manifest.body["apiVersion"], manifest.body["kind"]
    kind = applier.kind_of(api_version, kind_name)
    if kind is None:
        raise ConfigError(f"{manifest.source}: the cluster serves no kind {kind_name} "
                          f"in {api_version}")
    namespace = _namespace_for(manifest, kind, ctx, req)
    body = copy.deepcopy(manifest.body)
    if namespace:
        body["metadata"]["namespace"] = namespace
    else:  # a cluster-scoped kind ignores a namespace, as the API does
        body["metadata"].pop("namespace", None)
    return Target(manifest, ResourceRef(kind, manifest.name, namespace), body)


def _outcome(live: dict[str, Any] | None, changed: bool, dry_run: bool) -> str:
    outcome = "created" if live is None else "configured" if changed else "unchanged"
    return f"{outcome} (dry run)" if dry_run else outcome


async def apply_target(applier: Applier, target: Target, field_manager: str, *, dry_run: bool,
                       force: bool, done: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await applier.apply(target.body, namespace=target.ref.namespace,
                                   field_manager=field_manager, dry_run=dry_run, force=force)
    except Invalid as exc:
        raise CheckFailed(f"apply rejected: {target.manifest.source}: {target.label}: {exc}",
                          data=done) from None
    except Conflict as exc:
        raise CheckFailed(f"apply rejected: {target.manifest.source}: {target.label}: {exc} "
                          "(force: true takes these fields over)", data=done) from None
    except ENVIRONMENT_ERRORS:
        raise
    except BackendError as exc:  # e.g. a 500 a server's apply answers for this manifest
        raise CheckFailed(f"apply failed: {target.manifest.source}: {target.label}: {exc}",
                          data=done) from None


def _version(obj: dict[str, Any] | None) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion") if obj else None


async def _live(reader: ObjectReader, ref: ResourceRef) -> dict[str, Any] | None:
    try:
        return await reader.get_object(ref)
    except NotFound:
        return None


async def preview_target(applier: Applier, reader: ObjectReader, target: Target,
                         field_manager: str, force: bool, done: list[dict[str, Any]]
                         ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the live object, the dry-run answer) for the same version of the object.

    A dry run answers with the resourceVersion it started from; when a controller wrote
    the object between the read and the dry run (a Deployment's status right after it was
    created), the diff would show that write as a change, so the live object is read again.
    """
    live = await _live(reader, target.ref)
    for _ in range(PREVIEW_TRIES):
        merged = await apply_target(applier, target, field_manager, dry_run=True, force=force,
                              done=done)
        if _version(merged) == _version(live):
            break
        live = await _live(reader, target.ref)
    return live, merged


async def run_apply(ctx: ActionContext, req: ApplyRequest) -> AsyncIterator[ActionEvent]:
    applier: Applier = ctx.capability(Applier, "apply manifests")
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    if not req.dry_run:
        ctx.check_writable(f"apply of {req.path}")
    found = await asyncio.to_thread(manifests.load, ctx.path(req.path))
    # kind_of may ask the server's discovery about a version it has not seen yet
    targets = [await asyncio.to_thread(_target, applier, m, ctx, req) for m in found]
    field_manager = req.field_manager or ctx.field_manager
    done: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        live, merged = await preview_target(applier, reader, target, field_manager, req.force, done)
        if req.diff:
            for line in diff.diff_lines(live, merged, target.label):
                yield events.output(line)
        if not req.dry_run:
            await apply_target(applier, target, field_manager, dry_run=False, force=req.force,
                         done=done)
        ref = target.ref
        outcome = _outcome(live, diff.changed(live, merged), req.dry_run)
        done.append({"kind": ref.kind.kind, "name": ref.name, "namespace": ref.namespace,
                     "result": outcome})
        yield events.progress(f"{target.label} {outcome}", (index + 1) / len(targets),
                              done[-1])
    counts: dict[str, int] = {}
    for item in done:
        counts[item["result"]] = counts.get(item["result"], 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    yield events.ok(f"applied {len(done)} object{'s' if len(done) != 1 else ''}: {summary}",
                    done)


SPECS = (ActionSpec("apply", ApplyRequest, run_apply,
                    "server-side apply manifest files (a diff first)", mutating=True),)
