"""The load test: a concurrency or request-rate sweep against one Triton model.

``run_loadtest(endpoint, plan)`` checks that the model answers ready (an unreachable server
raises :class:`ConnectionFailed` before any step), encodes the request once, then runs each
step of the plan and yields :class:`LoadProgress` a few times a second and one
:class:`StepResult` per step. Failed requests are counted by kind, never raised.

The caller's event loop drives the load unless the plan asks for more than one loop keeps
up with, or for worker processes (``LoadPlan.workers``): then ``multiprocessing`` spawn
children each run their share and send their raw latency samples back, merged exactly into
the step's percentiles. Closing or cancelling the iterator ends the workers at once
(terminate, then kill, by PID); a worker whose parent dies exits by itself. As always with
spawn, the program's main module must be importable without side effects (``if __name__ ==
"__main__":``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from mlops_tui.backends.errors import ConnectionFailed, Forbidden, NotFound, Unauthorized
from mlops_tui.backends.triton.loadtest_grpc import GRPC_STATUS_KINDS
from mlops_tui.backends.triton.loadtest_http import HttpPool
from mlops_tui.backends.triton.loadtest_results import (
    StepResult,
    load_results,
    save_results,
    summarize,
)
from mlops_tui.backends.triton.loadtest_step import StepCounters, StepSamples, StepSpec, run_step
from mlops_tui.backends.triton.loadtest_wire import (
    WireRequest,
    encode_request,
    http_head,
    make_sender,
    model_path,
)
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint

__all__ = [
    "LoadPlan",
    "LoadProgress",
    "StepResult",
    "load_results",
    "probe",
    "results_meta",
    "run_loadtest",
    "save_results",
]

MAX_CONCURRENCY = 4096
MAX_RATE = 1_000_000.0
MIN_DURATION_S, MAX_DURATION_S = 0.1, 3600.0
MAX_REQUESTS = 10_000_000
MAX_WORKERS = 64
MAX_STEPS = 1000
#: what one event loop drives comfortably; beyond it ``workers=0`` adds processes
LOOP_CONCURRENCY, LOOP_RATE = 256, 2500.0
PROGRESS_S = 0.25
PROBE_TIMEOUT_S = 10.0


def _check_range(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name}: {value!r} is out of range ({low:g}..{high:g}{unit})")


@dataclass(frozen=True)
class LoadPlan:
    """What to send and how hard. Bad values raise ValueError naming the field.

    Exactly one of ``concurrency`` (closed loop: that many requests always in flight) and
    ``rates`` (open loop: requests/s at a constant pace) is given; each value is one step.
    A step measures for ``duration_s`` after ``warmup_s``; or, when ``requests`` is set,
    until that many requests completed (in rate mode: for ``requests / rate`` seconds).
    ``workers`` is the number of worker processes, each with its own event loop and its
    share of the load; 0 chooses: the caller's own loop while one loop keeps up
    (:data:`LOOP_CONCURRENCY`, :data:`LOOP_RATE`), else processes. A UI that wants the load
    off its own loop passes 1. ``request_timeout_s`` bounds each request (kind "timeout").
    """

    model: str
    inputs: tuple[InputTensor, ...]
    version: str = ""
    concurrency: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    duration_s: float | None = 10.0
    requests: int | None = None
    warmup_s: float = 2.0
    workers: int = 0
    request_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "concurrency", tuple(self.concurrency))
        object.__setattr__(self, "rates", tuple(self.rates))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model: a model name is needed")
        if not self.inputs:
            raise ValueError("inputs: at least one input is needed")
        if bool(self.concurrency) == bool(self.rates):
            raise ValueError("concurrency, rates: give exactly one of them (a list of levels)")
        levels = self.concurrency or self.rates
        if len(levels) > MAX_STEPS:
            raise ValueError(f"{'concurrency' if self.concurrency else 'rates'}: "
                             f"{len(levels)} steps, at most {MAX_STEPS}")
        for i, c in enumerate(self.concurrency):
            if not isinstance(c, int) or isinstance(c, bool):
                raise ValueError(f"concurrency[{i}]: expected a whole number, got {c!r}")
            _check_range(f"concurrency[{i}]", c, 1, MAX_CONCURRENCY)
        for i, r in enumerate(self.rates):
            _check_range(f"rates[{i}]", r, 0, MAX_RATE, " requests/s")
            if r <= 0:
                raise ValueError(f"rates[{i}]: {r!r} must be more than 0 requests/s")
        if self.duration_s is None and self.requests is None:
            raise ValueError("duration_s, requests: give a duration or a request count")
        if self.duration_s is not None:
            _check_range("duration_s", self.duration_s, MIN_DURATION_S, MAX_DURATION_S, " s")
        if self.requests is not None:
            if not isinstance(self.requests, int) or isinstance(self.requests, bool):
                raise ValueError(f"requests: expected a whole number, got {self.requests!r}")
            _check_range("requests", self.requests, 1, MAX_REQUESTS)
        _check_range("warmup_s", self.warmup_s, 0, MAX_DURATION_S, " s")
        _check_range("request_timeout_s", self.request_timeout_s, 0.1, MAX_DURATION_S, " s")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool):
            raise ValueError(f"workers: expected a whole number, got {self.workers!r}")
        _check_range("workers", self.workers, 0, MAX_WORKERS)

    @property
    def mode(self) -> Literal["concurrency", "rate"]:
        return "concurrency" if self.concurrency else "rate"

    @property
    def levels(self) -> tuple[float, ...]:
        return self.concurrency or self.rates

    def processes(self) -> int:
        """How many worker processes drive the load: ``workers``, or when 0, none (the
        caller's loop) while one loop keeps up, else one per loop's worth (at most one per
        CPU)."""
        if self.workers:
            return self.workers
        need = math.ceil(max(max(self.concurrency, default=0) / LOOP_CONCURRENCY,
                             max(self.rates, default=0.0) / LOOP_RATE))
        return 0 if need <= 1 else min(os.cpu_count() or 1, need)

    def share(self, level: float, loops: int) -> list[StepSpec | None]:
        """Each loop's part of one step (None: that loop sits it out)."""
        duration, requests = self.duration_s, self.requests
        if self.mode == "rate":
            if requests is not None:
                duration, requests = max(requests / level, MIN_DURATION_S), None
            return [StepSpec("rate", level / loops, self.warmup_s, duration)] * loops
        specs: list[StepSpec | None] = []
        for i in range(loops):
            users = int(level) // loops + (1 if i < int(level) % loops else 0)
            count = None
            if requests is not None:
                count = requests // loops + (1 if i < requests % loops else 0)
            usable = users > 0 and (count is None or count > 0)
            specs.append(StepSpec("concurrency", users, self.warmup_s,
                                  None if count else duration, count) if usable else None)
        return specs


@dataclass(frozen=True)
class LoadProgress:
    """Where a running load test is. ``step`` counts from 1; ``requests`` and ``errors``
    count this step's completions so far (warm-up included); ``rps_now`` is the recent
    rate of successful requests."""

    step: int
    steps: int
    level: float
    fraction: float
    requests: int
    errors: int
    rps_now: float


async def probe(wire: WireRequest, endpoint: TritonEndpoint) -> None:
    """Check that the model answers ready.

    Raises:
        ConnectionFailed: the server cannot be reached (or is not an HTTP/gRPC server).
        Unauthorized, Forbidden: the credentials were refused.
        NotFound: the server answers but the model (version) is not ready.
    """
    where = f"triton at {endpoint.protocol}://{endpoint.address}"
    kind = await asyncio.wait_for(_probe_kind(wire, endpoint), PROBE_TIMEOUT_S + 1)
    if kind is None:
        return
    if kind == "unauthorized":
        raise Unauthorized(f"{where} refused the credentials")
    if kind == "forbidden":
        raise Forbidden(f"{where} does not allow this")
    if kind in ("not_found", "invalid", "not_ready"):
        version = f" version {wire.version}" if wire.version else ""
        raise NotFound(f"model {wire.model}{version} is not ready on {where}")
    raise ConnectionFailed(f"cannot reach {where} ({kind})")


async def _probe_kind(wire: WireRequest, endpoint: TritonEndpoint) -> str | None:
    if wire.protocol == "grpc":
        import grpc
        import grpc.aio
        from tritonclient.grpc import service_pb2

        if wire.ssl:
            channel = grpc.aio.secure_channel(wire.address, grpc.ssl_channel_credentials())
        else:
            channel = grpc.aio.insecure_channel(wire.address)
        try:
            call = channel.unary_unary(
                "/inference.GRPCInferenceService/ModelReady",
                request_serializer=service_pb2.ModelReadyRequest.SerializeToString,
                response_deserializer=service_pb2.ModelReadyResponse.FromString,
            )
            request = service_pb2.ModelReadyRequest(name=wire.model, version=wire.version)
            try:
                reply = await call(request, timeout=PROBE_TIMEOUT_S,
                                   metadata=wire.headers or None)
            except grpc.aio.AioRpcError as e:
                return GRPC_STATUS_KINDS.get(e.code().value[0], "server")
            return None if reply.ready else "not_ready"
        finally:
            await channel.close(grace=None)
    host, _, port = endpoint.address.rpartition(":")
    pool = HttpPool(host.strip("[]") or "127.0.0.1", int(port),
                    ssl.create_default_context() if endpoint.ssl else None, PROBE_TIMEOUT_S)
    try:
        head = http_head("GET", endpoint, model_path(wire.model, wire.version) + "/ready", {})
        return await pool.request(head)
    finally:
        pool.close()


async def run_loadtest(
    endpoint: TritonEndpoint, plan: LoadPlan
) -> AsyncIterator[LoadProgress | StepResult]:
    """Run every step of ``plan`` against ``endpoint``.

    Yields:
        :class:`LoadProgress` about every 0.25 s, and a :class:`StepResult` after each step.

    Raises:
        ValueError: the inputs or headers cannot be encoded.
        ConnectionFailed, Unauthorized, Forbidden, NotFound: from the check before the
            first step (see :func:`probe`).
        RuntimeError (``WorkerFailed``): a worker process died.
    """
    port = endpoint.address.rpartition(":")[2]
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"address: {endpoint.address!r} is not host:port")
    wire = encode_request(endpoint, plan.model, plan.inputs, version=plan.version,
                          timeout_s=plan.request_timeout_s)
    await probe(wire, endpoint)
    processes = plan.processes()
    steps = len(plan.levels)
    if processes == 0:
        sender = make_sender(wire)
        try:
            for n, level in enumerate(plan.levels, start=1):
                spec = plan.share(level, 1)[0]
                assert spec is not None
                counters = StepCounters()
                task = asyncio.get_running_loop().create_task(run_step(sender, spec, counters))
                try:
                    async for item in _follow_local(task, counters):
                        yield _progress(item, n, steps, level, spec) if isinstance(
                            item, _Tick) else _result(plan, level, item)
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            await sender.close()
        return

    from mlops_tui.backends.triton.loadtest_worker import WorkerPool

    pool = WorkerPool(wire, processes)
    try:
        await pool.start()
        for n, level in enumerate(plan.levels, start=1):
            specs = plan.share(level, processes)
            spec = next(s for s in specs if s is not None)
            t0, last = time.perf_counter(), _Tick(StepCounters(), 0.0, 0.0, 0)
            async for item in pool.step(specs):
                if isinstance(item, StepSamples):
                    yield _result(plan, level, item)
                    continue
                tick = _Tick(item, time.perf_counter() - t0, last.elapsed, last.counters.ok)
                if tick.elapsed - last.elapsed >= PROGRESS_S:
                    yield _progress(tick, n, steps, level, spec, plan.requests)
                    last = tick
    finally:
        pool.close()


@dataclass(frozen=True)
class _Tick:
    counters: StepCounters
    elapsed: float
    last_elapsed: float
    last_ok: int


async def _follow_local(task: asyncio.Task, counters: StepCounters
                        ) -> AsyncIterator[_Tick | StepSamples]:
    t0 = time.perf_counter()
    last_elapsed, last_ok = 0.0, 0
    while True:
        done, _ = await asyncio.wait({task}, timeout=PROGRESS_S)
        if done:
            yield task.result()
            return
        elapsed = time.perf_counter() - t0
        snapshot = StepCounters(counters.ok, counters.errors, counters.measured)
        yield _Tick(snapshot, elapsed, last_elapsed, last_ok)
        last_elapsed, last_ok = elapsed, snapshot.ok


def _progress(tick: _Tick, n: int, steps: int, level: float, spec: StepSpec,
              total_requests: int | None = None) -> LoadProgress:
    c = tick.counters
    if spec.duration_s is not None:
        fraction = tick.elapsed / (spec.warmup_s + spec.duration_s)
    else:
        fraction = c.measured / (total_requests or spec.requests or 1)
    dt = tick.elapsed - tick.last_elapsed
    return LoadProgress(
        step=n,
        steps=steps,
        level=float(level),
        fraction=min(max(fraction, 0.0), 1.0),
        requests=c.ok,
        errors=c.errors,
        rps_now=(c.ok - tick.last_ok) / dt if dt > 0 else 0.0,
    )


def _result(plan: LoadPlan, level: float, samples: StepSamples) -> StepResult:
    return summarize(plan.mode, level, samples.latencies, samples.window_s, samples.errors)


def results_meta(endpoint: TritonEndpoint, plan: LoadPlan) -> dict:
    """What :func:`save_results` keeps about a run (never the endpoint's headers)."""
    return {
        "model": plan.model,
        "version": plan.version,
        "protocol": endpoint.protocol,
        "address": endpoint.address,
        "mode": plan.mode,
        "levels": list(plan.levels),
        "duration_s": plan.duration_s,
        "requests": plan.requests,
        "warmup_s": plan.warmup_s,
        "inputs": [
            {"name": t.name, "datatype": t.datatype, "shape": list(t.array.shape)}
            for t in plan.inputs
        ],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

