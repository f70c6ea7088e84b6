"""Reading actions: get (rows or whole objects), describe, yaml."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field, model_validator

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Name,
    Namespace,
    ObjectRequest,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.kinds import columns_for, renderer_for
from mlops_tui.backends.labels import parse_selector
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import Describer, ObjectReader

MAX_COUNT = 10_000_000


class GetRequest(Request):
    kind: str
    name: Name | None = None
    namespace: Namespace | None = None
    all_namespaces: bool = False
    selector: str = ""  # a label selector, as kubectl -l takes it
    field_selector: str = ""
    output: Literal["rows", "objects"] = "rows"
    expect_count: int | None = Field(default=None, ge=0, le=MAX_COUNT)

    @model_validator(mode="after")
    def _selector_parses(self) -> GetRequest:
        if self.selector:
            _, problem = parse_selector(self.selector)
            if problem:
                raise ValueError(problem)
        return self


def _row_dict(kind_columns: tuple, row: Any) -> dict[str, Any]:
    return {"name": row.name, "namespace": row.namespace,
            "cells": {c.name: cell for c, cell in zip(kind_columns, row.cells, strict=False)}}


async def run_get(ctx: ActionContext, req: GetRequest) -> AsyncIterator[ActionEvent]:
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    kind = ctx.kind(req.kind)
    namespace = "" if req.all_namespaces or not kind.namespaced else (
        req.namespace if req.namespace is not None else ctx.namespace) or "default"
    if req.name:
        objects = [await reader.get_object(ResourceRef(kind, req.name, namespace))]
    else:
        objects = await reader.list_objects(kind, namespace, label_selector=req.selector,
                                            field_selector=req.field_selector)
    if req.output == "objects":
        items: list[Any] = objects
    else:
        render, columns, now = renderer_for(kind), columns_for(kind), time.time()
        items = [_row_dict(columns, render(obj, now)) for obj in objects]
    where = f" in {namespace}" if namespace else ""
    data = {"kind": kind.display, "namespace": namespace, "count": len(items), "items": items}
    if req.expect_count is not None and len(items) != req.expect_count:
        raise CheckFailed(f"expected {req.expect_count} {kind.name}{where}, found {len(items)}",
                          data=data)
    yield events.ok(f"{len(items)} {kind.name}{where}", data)


async def run_describe(ctx: ActionContext, req: ObjectRequest) -> AsyncIterator[ActionEvent]:
    describer: Describer = ctx.capability(Describer, "describe objects")
    ref = ctx.ref(req)
    yield events.ok(f"described {ref}", await describer.describe(ref))


async def run_yaml(ctx: ActionContext, req: ObjectRequest) -> AsyncIterator[ActionEvent]:
    describer: Describer = ctx.capability(Describer, "show YAML")
    ref = ctx.ref(req)
    yield events.ok(f"YAML of {ref}", await describer.yaml(ref))


SPECS = (
    ActionSpec("get", GetRequest, run_get, "list or get objects"),
    ActionSpec("describe", ObjectRequest, run_describe, "describe an object"),
    ActionSpec("yaml", ObjectRequest, run_yaml, "an object as YAML"),
)
