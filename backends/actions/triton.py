"""infer and loadtest: a model server's model, reached through reach.py.

``infer`` sends one request built from the model's metadata (random or zero inputs, or a
``.npy`` / ``.json`` file) and streams one line per output (name, type, shape, the first
values) and the latency. ``loadtest`` runs a concurrency (or request-rate) sweep with the
load test engine, streaming its progress a few times a second, a table row per step, and
saves the figures as JSON and CSV when ``output`` is given. Both take the deployment's
``name`` (a port-forward to one of its Ready pods) or a ``url``.

The Triton client, numpy and the load test load when a step runs, never with the table.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Duration,
    Name,
    Namespace,
    Request,
    parse_duration,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.actions.reach import ModelName, triton_endpoint
from mlops_tui.backends.errors import ConfigError

if TYPE_CHECKING:
    from mlops_tui.backends.triton.client import TritonClient
    from mlops_tui.backends.triton.tensors import InputTensor

MAX_CONCURRENCY = 4096
MAX_STEPS = 64
MAX_RATE = 1_000_000.0
MAX_REQUESTS = 10_000_000
MAX_BATCH = 4096
PATH_MAX = 4096


def _warmup(value: object) -> object:
    """A duration, or 0 (no warm-up): parse_duration refuses 0, a warm-up may be none."""
    if value in (0, "0", "0s"):
        return 0.0
    return parse_duration(value)


def _inputs(value: object) -> object:
    if isinstance(value, str) and ("\0" in value or len(value) > PATH_MAX):
        raise ValueError("must be random, zeros or the path of a .npy or .json file")
    return value


Inputs = Annotated[str, Field(min_length=1), BeforeValidator(_inputs)]


class TritonRequest(Request):
    """Which server and model: a deployment ``name`` or a ``url``, and the protocol."""

    name: Name | None = None  # the model server deployment
    namespace: Namespace | None = None
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    model: ModelName
    version: str = Field(default="", pattern=r"^\d{0,19}$")
    protocol: Literal["http", "grpc"] = "grpc"
    inputs: Inputs = "random"  # random | zeros | PATH (.npy or .json)
    batch_size: int = Field(default=1, ge=1, le=MAX_BATCH)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _where(self) -> TritonRequest:
        if self.name is None and self.url is None:
            raise ValueError("give name (the model server deployment) or url (host:port)")
        return self


class InferRequest(TritonRequest):
    pass


class LoadtestRequest(TritonRequest):
    concurrency: list[Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)]] | None = Field(
        default=None, min_length=1, max_length=MAX_STEPS)
    rate: list[Annotated[float, Field(gt=0, le=MAX_RATE, allow_inf_nan=False)]] | None = \
        Field(default=None, min_length=1, max_length=MAX_STEPS)
    duration: Annotated[Duration, Field(ge=0.1, le=3600)] | None = None  # per step
    requests: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)  # per step
    warmup: Annotated[float, BeforeValidator(_warmup), Field(ge=0, le=600)] = 2.0
    output: str | None = Field(default=None, min_length=1, max_length=PATH_MAX)

    @model_validator(mode="after")
    def _plan(self) -> LoadtestRequest:
        if self.concurrency is not None and self.rate is not None:
            raise ValueError("give concurrency or rate, not both")
        if self.duration is not None and self.requests is not None:
            raise ValueError("give duration or requests, not both")
        return self


async def _model_inputs(ctx: ActionContext, client: TritonClient, req: TritonRequest
                        ) -> list[InputTensor]:
    """The inputs of one request, built from the model's metadata (or the file named)."""
    from mlops_tui.backends.triton.inputs import build_inputs

    meta = await client.model_metadata(req.model, req.version)
    config = await client.model_config(req.model, req.version)
    try:
        max_batch = int(config.get("max_batch_size") or 0)
    except (TypeError, ValueError):
        max_batch = 0
    source: Any = req.inputs if req.inputs in ("random", "zeros") else Path(
        ctx.path(req.inputs)).expanduser()
    try:
        return build_inputs(meta, source, batch_size=req.batch_size, max_batch_size=max_batch,
                            seed=req.seed)
    except ValueError as exc:
        raise ConfigError(f"inputs for model {req.model!r}: {exc}") from None


async def run_infer(ctx: ActionContext, req: InferRequest) -> AsyncIterator[ActionEvent]:
    from mlops_tui.backends.triton.client import TritonClient

    async with triton_endpoint(ctx, req.name, req.protocol, req.url,
                               namespace=req.namespace) as endpoint:
        yield events.progress(f"{req.model} at {endpoint.description or endpoint.address} "
                              f"over {req.protocol}")
        async with TritonClient(endpoint) as client:
            inputs = await _model_inputs(ctx, client, req)
            result = await client.infer(req.model, inputs, version=req.version)
    for out in result.outputs:
        yield events.output(out.preview())
    latency_ms = result.latency_s * 1000
    yield events.output(f"latency {latency_ms:.2f} ms")
    data = {"model": result.model, "latency_ms": round(latency_ms, 3),
            "outputs": [{"name": o.name, "datatype": o.datatype, "shape": list(o.shape),
                         "preview": o.values()} for o in result.outputs]}
    yield events.ok(f"{req.model}: {len(result.outputs)} output"
                    f"{'s' if len(result.outputs) != 1 else ''} in {latency_ms:.2f} ms", data)


TABLE_HEAD = f"{'MODE':<12}{'LEVEL':>8}{'REQUESTS':>10}{'REQ/S':>10}{'P50 MS':>9}" \
             f"{'P90 MS':>9}{'P99 MS':>9}{'ERRORS':>8}"


def table_row(step: Any) -> str:
    """One line of the results table for a StepResult."""
    level = f"{step.level:g}"
    errors = sum(step.errors.values())
    return (f"{step.mode:<12}{level:>8}{step.requests:>10}{step.throughput_rps:>10.1f}"
            f"{step.p50_ms:>9.2f}{step.p90_ms:>9.2f}{step.p99_ms:>9.2f}{errors:>8}")


def _plan(req: LoadtestRequest, inputs: list[InputTensor]) -> Any:
    from mlops_tui.backends.triton.loadtest import LoadPlan

    levels: dict[str, Any] = ({"rates": tuple(req.rate)} if req.rate is not None else
                              {"concurrency": tuple(req.concurrency or (1,))})
    amount: dict[str, Any] = ({"requests": req.requests, "duration_s": None}
                              if req.requests is not None else
                              {"duration_s": req.duration or 10.0})
    try:
        return LoadPlan(model=req.model, inputs=tuple(inputs), version=req.version,
                        warmup_s=req.warmup, **levels, **amount)
    except ValueError as exc:
        raise ConfigError(f"load test: {exc}") from None


def _progress(item: Any) -> ActionEvent:
    fraction = (item.step - 1 + item.fraction) / item.steps if item.steps else None
    message = (f"step {item.step}/{item.steps} at {item.level:g}: {item.requests} requests, "
               f"{item.errors} errors, {item.rps_now:.1f} req/s")
    return events.progress(message, fraction, asdict(item))


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


async def _sweep(endpoint: Any, plan: Any) -> AsyncIterator[Any]:
    """The engine's stream, its own errors turned into the action's."""
    from mlops_tui.backends.triton.loadtest import run_loadtest

    try:
        async with aclosing(run_loadtest(endpoint, plan)) as stream:
            async for item in stream:
                yield item
    except ValueError as exc:  # inputs that cannot be encoded
        raise ConfigError(f"load test: {exc}") from None
    except RuntimeError as exc:  # a worker process died
        raise CheckFailed(f"load test failed: {exc}") from None


async def run_loadtest(ctx: ActionContext, req: LoadtestRequest) -> AsyncIterator[ActionEvent]:
    from mlops_tui.backends.triton.client import TritonClient
    from mlops_tui.backends.triton.loadtest import StepResult, results_meta, save_results

    output = Path(ctx.path(req.output)).expanduser() if req.output else None
    results: list[Any] = []
    async with triton_endpoint(ctx, req.name, req.protocol, req.url,
                               namespace=req.namespace) as endpoint:
        where = endpoint.description or endpoint.address
        async with TritonClient(endpoint) as client:
            plan = _plan(req, await _model_inputs(ctx, client, req))
        yield events.progress(f"load test of {req.model} at {where} over {req.protocol}", 0.0)
        yield events.output(TABLE_HEAD)
        # closed at once when the step is cancelled: the engine stops its workers
        async with aclosing(_sweep(endpoint, plan)) as sweep:
            async for item in sweep:
                if isinstance(item, StepResult):
                    results.append(item)
                    yield events.output(table_row(item))
                else:
                    yield _progress(item)
        meta = {**results_meta(endpoint, plan), "target": where}
    files: list[str] = []
    if output is not None:
        try:
            files = [str(p) for p in await asyncio.to_thread(save_results, results, output,
                                                             meta=meta)]
        except OSError as exc:
            raise ConfigError(f"output {output}: cannot write: {exc.strerror or exc}") from None
        for file in files:
            yield events.output(f"saved {file}")
    steps = [{k: _number(v) if isinstance(v, float) else v for k, v in asdict(r).items()}
             for r in results]
    best = max(results, key=lambda r: r.throughput_rps, default=None)
    summary = (f"{len(results)} step{'s' if len(results) != 1 else ''}, best "
               f"{best.throughput_rps:.1f} req/s at {best.level:g}" if best else "no steps")
    yield events.ok(summary, {"model": req.model, "steps": steps, "files": files})


SPECS = (
    ActionSpec("infer", InferRequest, run_infer,
               "send one inference request to a model and show its outputs"),
    ActionSpec("loadtest", LoadtestRequest, run_loadtest,
               "load test a model: a concurrency or request-rate sweep"),
)
