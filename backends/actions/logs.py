"""Logs of a pod (or a workload's first pod), optionally until a line matches."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from pydantic import Field, field_validator

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import ActionContext, ActionSpec, CheckFailed, ObjectRequest
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.protocols import LogSource


class LogsRequest(ObjectRequest):
    kind: str = "pods"
    container: str | None = None
    previous: bool = False
    follow: bool = False  # with ``expect``: follows until a line matches (or the timeout)
    tail: int | None = Field(default=200, ge=0, le=1_000_000)
    expect: str | None = None  # a regular expression one line must match

    @field_validator("expect")
    @classmethod
    def _expect_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except (re.error, RecursionError, OverflowError) as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


async def run_logs(ctx: ActionContext, req: LogsRequest) -> AsyncIterator[ActionEvent]:
    source: LogSource = ctx.capability(LogSource, "read logs")
    ref = ctx.ref(req)
    pattern = re.compile(req.expect) if req.expect is not None else None
    count = 0
    async for line in source.logs(ref, container=req.container,
                                  follow=req.follow or pattern is not None,
                                  previous=req.previous, tail_lines=req.tail):
        count += 1
        yield events.output(line)
        if pattern is not None and pattern.search(line):
            yield events.ok(f"log line matched {req.expect!r}", {"line": line, "lines": count})
            return
    if pattern is not None:
        raise CheckFailed(f"no log line of {ref} matched {req.expect!r} ({count} lines read)",
                          data={"lines": count})
    yield events.ok(f"{count} log lines of {ref}", {"lines": count})


SPECS = (ActionSpec("logs", LogsRequest, run_logs, "a container's logs"),)
