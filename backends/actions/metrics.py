"""``assert_metric``: a PromQL expression compared with a threshold, optionally held for a
while (``for``), checked every ``every`` seconds.

Every series of the answer must satisfy the comparison. An empty answer is a check
failure of its own ("no data"), never taken as true or as false. A query the metrics
system rejects, an unreachable or refusing server, and a source without PromQL (the demo)
are environment errors: no retry of the same script fixes them (exit 2).
"""

from __future__ import annotations

import math
import operator
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent, Failure
from mlops_tui.backends.errors import BackendError, ConfigError, UnsupportedError
from mlops_tui.backends.metrics_models import Sample
from mlops_tui.backends.protocols import MetricsQuery

Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
# Between checks of a ``for``: a fresh answer at every scrape of a 5 s job, and no load
# to speak of on Prometheus (one instant query each time).
DEFAULT_EVERY_S = 5.0
MAX_QUERY_CHARS = 10_000
SHOWN_SERIES = 3  # in a message; ``data`` carries them all
SHOWN_QUERY_CHARS = 80


def _not_bool(value: object) -> object:
    if isinstance(value, bool):  # YAML's true/false would pass as 1.0/0.0 otherwise
        raise ValueError("must be a number")
    return value


class AssertMetricRequest(Request):
    """The script's ``assert_metric: {query, op, value, for, every}`` (``for`` is a Python
    keyword: the field is ``hold``, given as ``for``)."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    op: Op
    value: Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
    hold: Duration | None = Field(default=None, alias="for")  # ``for``: a Python keyword
    every: Duration = DEFAULT_EVERY_S

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a PromQL expression, not blank")
        return value


def _number(value: float) -> float | str:
    """A value for ``data`` (JSON): NaN and ±Inf as Prometheus writes them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def _shown(samples: list[Sample]) -> str:
    def one(sample: Sample) -> str:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
        return f"{{{labels}}} {sample.value:g}" if labels else f"{sample.value:g}"

    more = len(samples) - SHOWN_SERIES
    return ", ".join(map(one, samples[:SHOWN_SERIES])) + (f" (+{more} more)" if more > 0
                                                          else "")


def _values(samples: list[Sample]) -> list[dict[str, Any]]:
    return [{"labels": dict(s.labels), "value": _number(s.value)} for s in samples]


def _holds(sample: Sample, req: AssertMetricRequest) -> bool:
    # NaN satisfies no comparison, "!=" included: not a number is not a measurement
    return not math.isnan(sample.value) and OPS[req.op](sample.value, req.value)


async def _source(ctx: ActionContext) -> MetricsQuery:
    if ctx.metrics is None:
        raise ConfigError("no metrics source", hint="set prometheus: in the script, or "
                                                    "--prometheus-url")
    source = await ctx.metrics()
    if not isinstance(source, MetricsQuery):
        raise UnsupportedError(f"the {getattr(source, 'name', '')} metrics source has no "
                               "PromQL: assert_metric needs Prometheus")
    return source


async def run_assert_metric(ctx: ActionContext, req: AssertMetricRequest
                            ) -> AsyncIterator[ActionEvent]:
    condition = f"{req.op} {req.value:g}"
    query = req.query if len(req.query) <= SHOWN_QUERY_CHARS else (
        req.query[:SHOWN_QUERY_CHARS] + "…")
    hold = req.hold or 0.0
    of_hold = f" of {hold:g}s" if hold else ""
    start = ctx.clock()
    try:
        source = await _source(ctx)
        while True:
            samples = await source.instant(req.query)
            held = ctx.clock() - start
            data = {"values": _values(samples), "held_s": round(held, 3)}
            if not samples:
                raise CheckFailed(f"no data: {query} returned no series (after "
                                  f"{held:.0f}s{of_hold})", data={**data, "reason": "no data"})
            failing = [s for s in samples if not _holds(s, req)]
            if failing:
                raise CheckFailed(f"{query}: {_shown(failing)} not {condition} (after "
                                  f"{held:.0f}s{of_hold})", data={**data, "reason": "false"})
            if held >= hold:
                yield events.ok(f"{query}: {_shown(samples)} {condition}"
                                + (f", held {hold:g}s" if hold else ""), data)
                return
            yield events.progress(f"{_shown(samples)} {condition} · held {held:.0f}s{of_hold}",
                                  held / hold, data)
            await ctx.sleep(min(req.every, hold - held))
    except CheckFailed:
        raise
    except BackendError as exc:
        # a bad query, an unreachable or refusing server, no PromQL: no rerun of the same
        # script passes, so it is a usage or environment error (exit 2), not a failed check
        yield events.failed(str(exc), Failure.ENVIRONMENT)


SPECS = (ActionSpec("assert_metric", AssertMetricRequest, run_assert_metric,
                    "check a PromQL expression against a threshold"),)
