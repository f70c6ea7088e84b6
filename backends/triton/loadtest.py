"""The load test: a concurrency or request-rate sweep against one Triton model.

``run_loadtest(endpoint, plan)`` checks that the model answers ready (an unreachable server
raises :class:`ConnectionFailed` before any step), encodes the request once, then runs each
step of the plan and yields :class:`LoadProgress` a few times a second and one
:class:`StepResult` per step. Failed requests are counted by kind, never raised.

Worker processes drive the load (``LoadPlan.workers``; at least one, each on uvloop where
it is installed, see ``loadtest_worker``): ``multiprocessing`` spawn children each run their
share and send their raw latency samples back, merged exactly into
the step's percentiles. Closing or cancelling the iterator ends the workers at once
(terminate, then kill, by PID); a worker whose parent dies exits by itself. As always with
spawn, the program's main module must be importable without side effects (``if __name__ ==
"__main__":``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from mlops_tui.backends.errors import ConnectionFailed, Forbidden, NotFound, Unauthorized
from mlops_tui.backends.triton.loadtest_grpc import GRPC_STATUS_KINDS
from mlops_tui.backends.triton.loadtest_http import HttpPool
from mlops_tui.backends.triton.loadtest_plan import LoadPlan, LoadProgress
from mlops_tui.backends.triton.loadtest_results import (
    StepResult,
    load_results,
    save_results,
    summarize,
)
from mlops_tui.backends.triton.loadtest_step import StepCounters, StepSamples, StepSpec
from mlops_tui.backends.triton.loadtest_wire import (
    WireRequest,
    encode_request,
    http_head,
    model_path,
)
from mlops_tui.backends.triton.tensors import TritonEndpoint

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

PROGRESS_S = 0.25
PROBE_TIMEOUT_S = 10.0


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
    processes = plan.processes(endpoint.protocol)
    steps = len(plan.levels)
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

