"""wait: until a condition holds on one object, as ``kubectl wait`` / ``rollout status``.

``for: rollout`` follows the kind's rollout rule (the kind table), ``for: ready`` its Ready
condition or replica counts, ``for: deleted`` its absence (or a new uid: it was recreated);
``jsonpath`` + ``equals`` compares one value as ``kubectl wait --for=jsonpath=...`` does
(without ``equals``: until the path exists). ``for: model_ready`` names a model server
(no ``kind``: the Deployment or KServe InferenceService deploy made under that name) and a
``model``: it follows the readiness verdict (pods, events, endpoints and Triton's own answer
per pod; an InferenceService's status as KServe writes it; see readiness.py). The object
may not exist yet: the wait keeps polling (once a second, through ObjectReader) and streams
what it is waiting for each time that changes; at the timeout it fails as a check with the
last state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from mlops_tui.backends.actions import events, readiness
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    ObjectRequest,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.actions.jsonpath import (
    MAX_LENGTH,
    NotScalar,
    as_text,
    compile_path,
    scalar,
)
from mlops_tui.backends.actions.reach import ModelName
from mlops_tui.backends.errors import ConfigError, NotFound
from mlops_tui.backends.kinds import rollout_for
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import ObjectReader
from mlops_tui.backends.render.rollout import Status, ready

POLL_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 300.0

Condition = Callable[[dict[str, Any] | None], Status]


def _as_text(value: object) -> object:
    """A number or true/false from YAML, compared as the text kubectl prints for it."""
    return as_text(value) if isinstance(value, int | float | bool) else value


class WaitRequest(ObjectRequest):
    # ``for`` is a Python keyword: the field is ``for_``, spelled ``for`` in scripts
    model_config = ConfigDict(populate_by_name=True)

    kind: str | None = None  # every condition but model_ready needs it
    for_: Literal["rollout", "ready", "deleted", "model_ready"] | None = Field(
        default=None, alias="for")
    model: ModelName | None = None  # for: model_ready
    jsonpath: str | None = Field(default=None, min_length=1, max_length=MAX_LENGTH)
    equals: Annotated[str, BeforeValidator(_as_text)] | None = None  # 2 and "2" alike
    timeout: Duration = DEFAULT_TIMEOUT_S

    @model_validator(mode="after")
    def _one_condition(self) -> WaitRequest:
        if (self.for_ is None) == (self.jsonpath is None):
            raise ValueError("give exactly one of 'for' (rollout, ready, deleted, "
                             "model_ready) or 'jsonpath'")
        if self.for_ == "model_ready":
            if self.model is None:
                raise ValueError("for: model_ready needs 'model' (the model's name in the "
                                 "repository)")
            if self.kind is not None:
                raise ValueError("for: model_ready takes no 'kind': 'name' is the model "
                                 "server's deployment")
            return self
        if self.model is not None:
            raise ValueError("'model' goes with for: model_ready")
        if self.kind is None:
            raise ValueError("'kind' is required (e.g. deployment, pod)")
        if self.equals is not None and self.jsonpath is None:
            raise ValueError("'equals' goes with 'jsonpath'")
        if self.jsonpath is not None:
            compile_path(self.jsonpath)  # a ValueError here names the problem
        return self


def _absent(ref: ResourceRef) -> Status:
    return Status(False, f"{ref} does not exist yet")


def _rollout(ref: ResourceRef) -> Condition:
    rule = rollout_for(ref.kind)
    if rule is None:
        raise ConfigError(f"{ref.kind.name} have no rollout to wait for; use for: ready or "
                          "a jsonpath")
    return lambda obj: _absent(ref) if obj is None else rule(obj)


def _deleted(ref: ResourceRef) -> Condition:
    first_uid: list[str] = []  # the uid seen first: another uid means it was recreated

    def check(obj: dict[str, Any] | None) -> Status:
        if obj is None:
            return Status(True, f"{ref} deleted")
        uid = (obj.get("metadata") or {}).get("uid", "")
        if not first_uid:
            first_uid.append(uid)
        if uid != first_uid[0]:
            return Status(True, f"{ref} deleted (a new one with the same name exists)")
        deleting = (obj.get("metadata") or {}).get("deletionTimestamp")
        return Status(False, f"{ref} is being deleted" if deleting else f"{ref} still exists")
    return check


def _jsonpath(ref: ResourceRef, template: str, equals: str | None) -> Condition:
    path = compile_path(template)

    def check(obj: dict[str, Any] | None) -> Status:
        if obj is None:
            return _absent(ref)
        try:
            value = scalar(path, obj)
        except NotScalar as exc:
            raise ConfigError(f"{template} on {ref}: {exc}") from None
        if value is None:
            return Status(False, f"{template} is not set yet")
        if equals is None:
            return Status(True, f"{template} is {value}")
        if value == equals:
            return Status(True, f"{template} is {value}")
        return Status(False, f"{template} is {value}, waiting for {equals}")
    return check


def _condition(ref: ResourceRef, req: WaitRequest) -> tuple[Condition, str]:
    """The check to poll, and what it waits for in words."""
    if req.jsonpath is not None:
        wanted = f"{req.jsonpath} = {req.equals}" if req.equals is not None else req.jsonpath
        return _jsonpath(ref, req.jsonpath, req.equals), wanted
    if req.for_ == "rollout":
        return _rollout(ref), "its rollout"
    if req.for_ == "deleted":
        return _deleted(ref), "its deletion"
    return (lambda obj: _absent(ref) if obj is None else ready(obj)), "Ready"


def _seconds(value: float) -> str:
    return f"{value:g}s"


async def _model_ready(ctx: ActionContext, req: WaitRequest) -> AsyncIterator[ActionEvent]:
    namespace = req.namespace or ctx.namespace or "default"
    yield events.progress(f"waiting up to {_seconds(req.timeout)} for "
                          f"{namespace}/{req.name} (a deployment or an InferenceService) "
                          f"to serve model {req.model!r}")
    # closed at once when the step is cancelled: its port-forwards with it
    async with aclosing(readiness.follow(ctx, req.name, namespace, req.model,
                                         req.timeout)) as stream:
        async for event in stream:
            yield event


async def run_wait(ctx: ActionContext, req: WaitRequest) -> AsyncIterator[ActionEvent]:
    if req.for_ == "model_ready":
        async for event in _model_ready(ctx, req):
            yield event
        return
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    ref = ctx.ref(req)
    condition, wanted = _condition(ref, req)
    start = ctx.clock()
    deadline = start + req.timeout
    yield events.progress(f"waiting up to {_seconds(req.timeout)} for {ref}: {wanted}")
    last = ""
    while True:
        try:
            obj: dict[str, Any] | None = await reader.get_object(ref)
        except NotFound:
            obj = None
        status = condition(obj)
        data = {"kind": ref.kind.kind, "name": ref.name, "namespace": ref.namespace,
                "state": status.message, "elapsed_s": round(ctx.clock() - start, 3)}
        if status.done:
            yield events.ok(status.message, data)
            return
        if status.failed:
            raise CheckFailed(f"{ref}: {status.message}", data=data)
        if status.message != last:
            last = status.message
            yield events.progress(status.message, data=data)
        remaining = deadline - ctx.clock()
        if remaining <= 0:
            raise CheckFailed(f"timed out after {_seconds(req.timeout)} waiting for {ref} "
                              f"({wanted}): {status.message}", data=data)
        await ctx.sleep(min(POLL_INTERVAL_S, remaining))


SPECS = (ActionSpec("wait", WaitRequest, run_wait, "wait for a condition on an object"),)
