"""The load test engine against a real bare tritonserver (tests/servers/triton.py), over
gRPC and HTTP: sweeps, rate mode, worker processes, errors by kind, unreachable servers,
cancellation, and the results files. Correctness only: speed is benchmarks/bench_loadtest.py.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from pathlib import Path

import numpy as np
import psutil
import pytest

from mlops_tui.backends.errors import ConnectionFailed, NotFound
from mlops_tui.backends.triton.loadtest import (
    LoadPlan,
    LoadProgress,
    StepResult,
    load_results,
    results_meta,
    run_loadtest,
    save_results,
)
from mlops_tui.backends.triton.loadtest_results import percentile, summarize
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint
from tests.servers.fixtures import require_servers
from tests.servers.triton import INPUT_NAME, REJECT_VALUE, WIDTH, ModelSpec, TritonServer

PROTOCOLS = ("grpc", "http")


def ones(value: float = 1.0) -> tuple[InputTensor, ...]:
    data = np.full((1, WIDTH), value, dtype=np.float32)
    return (InputTensor(INPUT_NAME, "FP32", data),)


def endpoint(server: TritonServer, protocol: str) -> TritonEndpoint:
    address = server.grpc_address if protocol == "grpc" else f"127.0.0.1:{server.http_port}"
    return TritonEndpoint(address, protocol)


async def collect(ep: TritonEndpoint, plan: LoadPlan) -> tuple[list[LoadProgress], list[StepResult]]:
    progress, results = [], []
    async for item in run_loadtest(ep, plan):
        (results if isinstance(item, StepResult) else progress).append(item)
    return progress, results


def assert_sane(result: StepResult) -> None:
    assert result.requests > 0
    assert 0 < result.p50_ms <= result.p90_ms <= result.p95_ms <= result.p99_ms
    assert result.mean_ms > 0
    assert result.throughput_rps == pytest.approx(result.requests / result.duration_s)


# --------------------------------------------------------------------------- plan checks


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"concurrency": (0,)}, "concurrency[0]"),
        ({"concurrency": (1, -3)}, "concurrency[1]"),
        ({"concurrency": (5000,)}, "concurrency[0]"),
        ({"concurrency": (2.5,)}, "concurrency[0]"),
        ({"concurrency": (), "rates": (0.0,)}, "rates[0]"),
        ({"concurrency": (), "rates": (-1.0,)}, "rates[0]"),
        ({"concurrency": (), "rates": (math.inf,)}, "rates[0]"),
        ({"concurrency": (), "rates": (math.nan,)}, "rates[0]"),
        ({"concurrency": (), "rates": ()}, "concurrency, rates"),
        ({"rates": (5.0,)}, "concurrency, rates"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"duration_s": 7200.0}, "duration_s"),
        ({"duration_s": None}, "duration_s, requests"),
        ({"requests": 0}, "requests"),
        ({"requests": 10**8}, "requests"),
        ({"warmup_s": -1.0}, "warmup_s"),
        ({"workers": -1}, "workers"),
        ({"workers": 1000}, "workers"),
        ({"model": " "}, "model"),
        ({"inputs": ()}, "inputs"),
    ],
)
def test_bad_plans_are_refused_naming_the_field(changes, field):
    values = {"model": "resnet50", "inputs": ones(), "concurrency": (1,), **changes}
    with pytest.raises(ValueError) as err:
        LoadPlan(**values)
    assert str(err.value).startswith(field + ":")
    assert "\n" not in str(err.value)


def test_the_concurrency_is_shared_out_among_loops():
    plan = LoadPlan("m", ones(), concurrency=(5,), requests=11)
    specs = plan.share(5, 2)
    assert [s.level for s in specs] == [3, 2]
    assert [s.requests for s in specs] == [6, 5]
    assert plan.share(1, 2)[1] is None  # one user: the second loop sits out
    # one loop keeps up with 5, and it is a worker's: never the caller's loop
    assert plan.processes("http") == plan.processes("grpc") == 1
    many = LoadPlan("m", ones(), concurrency=(1, 4096))
    assert many.processes("grpc") == min(os.cpu_count(), 16)
    assert LoadPlan("m", ones(), concurrency=(16,)).processes("http") == min(os.cpu_count(), 2)
    assert LoadPlan("m", ones(), concurrency=(16,)).processes("grpc") == 1
    assert LoadPlan("m", ones(), concurrency=(1,), workers=1).processes() == 1
    rate = LoadPlan("m", ones(), rates=(100.0,), requests=50, warmup_s=0)
    assert [s.level for s in rate.share(100.0, 2)] == [50.0, 50.0]
    assert rate.share(100.0, 2)[0].duration_s == pytest.approx(0.5)  # 50 requests at 100/s


# --------------------------------------------------------------------------- figures


def test_percentiles_are_nearest_rank_over_every_sample():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    # two loops' samples merged: the p99 of the union, not the mean of two p99s
    fast, slow = [0.001] * 90, [0.1] * 10
    merged = summarize("concurrency", 4, fast + slow, 2.0, {"timeout": 1, "invalid": 0})
    assert merged.p90_ms == pytest.approx(1.0)
    assert merged.p99_ms == pytest.approx(100.0)
    assert merged.requests == 100 and merged.throughput_rps == 50.0
    assert merged.errors == {"timeout": 1}


def test_results_are_written_as_json_and_csv_and_read_back(tmp_path):
    results = [
        summarize("concurrency", 1, [0.002, 0.004, 0.003], 1.5, {}),
        summarize("concurrency", 16, [], 1.5, {"unavailable": 7, "timeout": 2}),
    ]
    paths = save_results(results, tmp_path / "out" / "run.json", meta={"model": "resnet50"})
    assert [p.name for p in paths] == ["run.json", "run.csv"]
    back, meta = load_results(paths[0])
    assert meta == {"model": "resnet50"}
    assert back[0] == results[0]
    assert back[1].requests == 0 and math.isnan(back[1].p99_ms)
    assert back[1].errors == {"timeout": 2, "unavailable": 7}
    from_csv, _ = load_results(paths[1])
    assert from_csv[0] == results[0]
    assert from_csv[1].errors == results[1].errors
    header = paths[1].read_text().splitlines()[0]
    assert header.endswith("errors_total,errors_timeout,errors_unavailable")


def test_unreadable_results_files_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"mode": "concurrency"}]}')
    with pytest.raises(ValueError, match=r"bad.json: results\[0\]: missing "):
        load_results(bad)
    bad.write_text("not json")
    with pytest.raises(ValueError, match="bad.json: not JSON"):
        load_results(bad)
    with pytest.raises(ValueError, match="meta: cannot be written as JSON"):
        save_results([], tmp_path / "x", meta={"when": object()})


# --------------------------------------------------------------------------- real server


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_short_sweep_gives_sane_figures(triton_server, protocol, tmp_path):
    ep = endpoint(triton_server, protocol)
    plan = LoadPlan("resnet50", ones(), concurrency=(1, 4), duration_s=1.0, warmup_s=0.3)
    progress, results = await collect(ep, plan)
    assert [r.level for r in results] == [1.0, 4.0]
    for r in results:
        assert_sane(r)
        assert r.errors == {} and r.duration_s == pytest.approx(1.0)
    assert progress, "progress comes a few times a second"
    assert {p.step for p in progress} == {1, 2} and all(p.steps == 2 for p in progress)
    assert all(0.0 <= p.fraction <= 1.0 for p in progress)
    assert progress[-1].requests > 0 and progress[-1].rps_now >= 0

    paths = save_results(results, tmp_path / "sweep", meta=results_meta(ep, plan))
    back, meta = load_results(paths[0])
    assert back == results and meta["protocol"] == protocol and meta["levels"] == [1, 4]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_rate_mode_holds_roughly_the_asked_rate(triton_server, protocol):
    ep = endpoint(triton_server, protocol)
    plan = LoadPlan("resnet50", ones(), rates=(40.0,), duration_s=2.0, warmup_s=0.2)
    _, (result,) = await collect(ep, plan)
    assert_sane(result)
    assert result.mode == "rate" and result.level == 40.0
    # open loop at a constant pace: ~80 requests in 2 s (loose: a busy machine can lag)
    assert 40 <= result.requests <= 100


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("workers", [1, 2])
async def test_worker_processes_merge_their_samples(triton_server, protocol, workers):
    ep = endpoint(triton_server, protocol)
    plan = LoadPlan("resnet50", ones(), concurrency=(3,), requests=200, warmup_s=0.2,
                    workers=workers)
    progress, (result,) = await collect(ep, plan)
    assert_sane(result)
    assert result.requests == 200 and result.errors == {}  # shared out exactly
    assert progress and progress[-1].fraction <= 1.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_failed_requests_are_counted_by_kind(triton_server, protocol):
    ep = endpoint(triton_server, protocol)
    # the model raises for this input: a backend failure (HTTP 500 / gRPC INTERNAL)
    refused = LoadPlan("resnet50", ones(REJECT_VALUE), concurrency=(2,), duration_s=0.5,
                       warmup_s=0)
    _, (result,) = await collect(ep, refused)
    assert result.requests == 0 and math.isnan(result.p50_ms)
    assert set(result.errors) == {"server"} and result.errors["server"] > 0
    # an input the model does not have: refused before the model (HTTP 400 / INVALID_ARGUMENT)
    wrong = (InputTensor("NOT_AN_INPUT", "FP32", np.ones((1, WIDTH), np.float32)),)
    plan = LoadPlan("resnet50", wrong, concurrency=(2,), duration_s=0.5, warmup_s=0)
    _, (result,) = await collect(ep, plan)
    assert set(result.errors) == {"invalid"} and result.errors["invalid"] > 0


@pytest.fixture(scope="module")
def own_triton():
    """A server of this module's own: a model slower than the shortest timeout, and one
    whose requests are 1 MiB (many frames, flow control on both protocols)."""
    require_servers("triton")
    models = [ModelSpec("slow", delay_ms=400.0, max_batch_size=0),
              ModelSpec("big", max_batch_size=65536)]
    with TritonServer(models) as server:
        yield server


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_requests_slower_than_the_timeout_count_as_timeouts(own_triton, protocol):
    ep = endpoint(own_triton, protocol)
    plan = LoadPlan("slow", (InputTensor(INPUT_NAME, "FP32", np.ones(WIDTH, np.float32)),),
                    concurrency=(2,), duration_s=1.0, warmup_s=0, request_timeout_s=0.1)
    _, (result,) = await collect(ep, plan)
    assert result.requests == 0
    assert set(result.errors) == {"timeout"} and result.errors["timeout"] >= 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_rate_mode_skips_sends_beyond_the_in_flight_cap(own_triton, protocol, monkeypatch):
    # the step function itself, in this process: the cap is patched here, and a worker
    # process would not see the patch
    from mlops_tui.backends.triton import loadtest_step
    from mlops_tui.backends.triton.loadtest_wire import encode_request, make_sender

    monkeypatch.setattr(loadtest_step, "MAX_IN_FLIGHT", 4)
    inputs = (InputTensor(INPUT_NAME, "FP32", np.ones(WIDTH, np.float32)),)
    sender = make_sender(encode_request(endpoint(own_triton, protocol), "slow", inputs,
                                        timeout_s=5.0))
    try:
        samples = await loadtest_step.run_step(
            sender, loadtest_step.StepSpec("rate", 100.0, 0.0, 0.5),
            loadtest_step.StepCounters())
    finally:
        await sender.close()
    # 4 in flight on a 400 ms model: about 46 of the ~50 sends are skipped, none answered
    assert 30 <= samples.errors["dropped"] <= 51 and len(samples.latencies) == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_large_requests_and_answers_get_through(own_triton, protocol):
    big = (InputTensor(INPUT_NAME, "FP32", np.ones((65536, WIDTH), np.float32)),)  # 1 MiB
    plan = LoadPlan("big", big, concurrency=(3,), requests=12, warmup_s=0)
    _, (result,) = await collect(endpoint(own_triton, protocol), plan)
    assert_sane(result)
    assert result.requests == 12 and result.errors == {}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_unreachable_server_fails_before_any_step(protocol):
    ep = TritonEndpoint(f"127.0.0.1:{closed_port()}", protocol)
    seen = []
    with pytest.raises(ConnectionFailed, match=f"cannot reach triton at {protocol}://127.0.0.1"):
        async for item in run_loadtest(ep, LoadPlan("m", ones(), concurrency=(1,))):
            seen.append(item)
    assert seen == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_unknown_model_fails_before_any_step(triton_server, protocol):
    plan = LoadPlan("no-such-model", ones(), concurrency=(1,))
    with pytest.raises(NotFound, match="model no-such-model is not ready"):
        async for _ in run_loadtest(endpoint(triton_server, protocol), plan):
            pass


def own_children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cancelling_ends_the_workers_at_once(triton_server, protocol):
    before = own_children()
    plan = LoadPlan("resnet50", ones(), concurrency=(4,), duration_s=60.0, warmup_s=0,
                    workers=2)
    started = asyncio.Event()
    during: set[int] = set()

    async def run() -> None:
        async for item in run_loadtest(endpoint(triton_server, protocol), plan):
            if isinstance(item, LoadProgress) and item.requests > 0 and not started.is_set():
                during.update(own_children() - before)
                started.set()

    task = asyncio.create_task(run())
    await asyncio.wait_for(started.wait(), 60)
    assert len(during) == 2, "two worker processes while it runs"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not {pid for pid in during if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
    assert own_children() - before == set()


async def test_closing_the_iterator_midway_stops_the_load(triton_server):
    plan = LoadPlan("resnet50", ones(), concurrency=(2,), duration_s=60.0, warmup_s=0)
    stream = run_loadtest(endpoint(triton_server, "http"), plan)
    async for item in stream:
        if isinstance(item, LoadProgress):
            break
    await stream.aclose()  # within the caller's loop: nothing left running
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []


async def test_results_file_of_a_real_run_has_one_row_per_step(triton_server, tmp_path: Path):
    ep = endpoint(triton_server, "grpc")
    plan = LoadPlan("resnet50", ones(), concurrency=(1, 2), requests=30, warmup_s=0)
    _, results = await collect(ep, plan)
    assert [r.requests for r in results] == [30, 30]
    json_path, csv_path = save_results(results, tmp_path / "r.csv", meta=results_meta(ep, plan))
    assert len(csv_path.read_text().splitlines()) == 3
    assert "headers" not in json_path.read_text()


# --------------------------------------------------------------------------- odd answers


ODD_ANSWERS = {
    "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n", None),
    "split": (b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc", None),  # + "def" later
    "error": (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n", "unavailable"),
    "no_length": (b"HTTP/1.1 200 OK\r\n\r\nbody", "protocol"),
    "garbage": (b"\x16\x03\x01 not http at all\r\n\r\n", "protocol"),
    "too_much": (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", "protocol"),
    "bad_chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol"),
    "huge_head": (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000, "protocol"),
    "hang_up": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "unavailable"),
}


@pytest.mark.parametrize("case", sorted(ODD_ANSWERS))
async def test_odd_http_answers_are_counted_never_raised(case):
    """Answers a real Triton never sends (a hand-made server on 127.0.0.1): each one is an
    error kind, the pool stays usable, and nothing raises."""
    from mlops_tui.backends.triton.loadtest_http import HttpPool

    answer, kind = ODD_ANSWERS[case]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(answer)
            if case == "split":
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"def")
            if case == "hang_up":
                await writer.drain()
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool("127.0.0.1", port, None, timeout_s=5.0)
    try:
        request = b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n"
        assert [await pool.request(request) for _ in range(3)] == [kind] * 3
    finally:
        pool.close()
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- HTTP/2 frames


class FakeTransport:
    """Collects what the HTTP/2 client writes (no socket: the frames below are ones a real
    gRPC server does not send on purpose, or sends only under conditions hard to cause)."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True


def h2_client():
    from mlops_tui.backends.triton.loadtest_grpc import H2Connection, header_block

    block = header_block("127.0.0.1:1", "/p", 1.0, "http", (("authorization", "Bearer x"),))
    conn = H2Connection(block, b"\0\0\0\0\1z")
    conn.connection_made(FakeTransport())
    return conn


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    from mlops_tui.backends.triton.loadtest_grpc import _frame

    return _frame(kind, flags, stream, payload)


async def test_http2_answers_end_each_call_with_its_kind():
    from hpack import Encoder

    from mlops_tui.backends.triton.loadtest_grpc import (
        DATA,
        END_HEADERS,
        END_STREAM,
        GOAWAY,
        HEADERS,
        PING,
        RST_STREAM,
    )

    loop = asyncio.get_running_loop()
    conn = h2_client()
    assert conn.transport.written.startswith(b"PRI * HTTP/2.0")
    calls = [loop.create_future() for _ in range(6)]
    sids = [conn.start(f) for f in calls]
    assert sids == [1, 3, 5, 7, 9, 11]
    enc = Encoder()
    ok = enc.encode([(":status", "200"), ("content-type", "application/grpc")])
    trailers = enc.encode([("grpc-status", "0")])
    refused = enc.encode([(":status", "200"), ("grpc-status", "3"), ("grpc-message", "bad")])
    conn.data_received(
        frame(HEADERS, END_HEADERS, 1, ok) + frame(DATA, 0, 1, b"\0\0\0\0\0")
        + frame(HEADERS, END_HEADERS | END_STREAM, 1, trailers)          # 1: fine
        + frame(HEADERS, END_HEADERS | END_STREAM, 3, refused)           # 3: trailers only
        + frame(RST_STREAM, 0, 5, (7).to_bytes(4, "big"))                # 5: refused stream
        + frame(DATA, END_STREAM, 7, b"\0\0\0\0\0")                      # 7: no trailers
        + frame(PING, 0, 0, b"12345678")
        + frame(GOAWAY, 0, 0, (9).to_bytes(4, "big") + bytes(4))         # 11: not taken
    )
    assert [f.result() for f in calls[:4]] + [calls[5].result()] == [
        None, "invalid", "unavailable", "protocol", "unavailable"]
    assert not calls[4].done() and not conn.usable  # 9 may still answer; no new calls
    await asyncio.sleep(0)  # corked frames leave at the end of the loop pass
    assert frame(PING, 1, 0, b"12345678") in conn.transport.written
    conn.data_received(b"\xff\xff\xff" + bytes(6))  # a frame over the size we allow
    assert calls[4].result() == "protocol" and conn.transport.closed


async def test_http2_data_waits_for_the_servers_window():
    from mlops_tui.backends.triton.loadtest_grpc import DATA, SETTINGS, WINDOW_UPDATE, H2Connection

    conn = H2Connection(b"", b"m" * 70_000)
    conn.connection_made(FakeTransport())
    conn.transport.written = b""
    call = asyncio.get_running_loop().create_future()
    conn.start(call)
    await asyncio.sleep(0)
    sent = conn.transport.written.count(bytes((DATA,)) + b"\0\0\0\0\1")
    assert 0 < sent <= 4 and conn.streams[1].pending  # 65535 bytes at most, the rest waits
    conn.data_received(frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (10**6).to_bytes(4, "big"))
                       + frame(WINDOW_UPDATE, 0, 0, (10**6).to_bytes(4, "big")))
    assert not conn.streams[1].pending  # all sent once both windows opened


KILLED_PARENT = """
import asyncio, os, sys
import numpy as np
from mlops_tui.backends.triton.loadtest import LoadPlan, LoadProgress, run_loadtest
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint

async def main():
    inputs = (InputTensor("INPUT__0", "FP32", np.ones((1, 4), np.float32)),)
    plan = LoadPlan("resnet50", inputs, concurrency=(2,), duration_s=60, warmup_s=0, workers=2)
    async for item in run_loadtest(TritonEndpoint(sys.argv[1], sys.argv[2]), plan):
        if isinstance(item, LoadProgress) and item.requests:
            print("running", flush=True)

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_workers_end_when_their_parent_is_killed(triton_server, protocol, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(KILLED_PARENT)
    ep = endpoint(triton_server, protocol)
    parent = subprocess.Popen([sys.executable, str(script), ep.address, protocol],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "running"
        # the two workers (and multiprocessing's resource tracker)
        children = psutil.Process(parent.pid).children()
        assert len(children) >= 2
        parent.kill()  # no cleanup runs: the workers see their pipe close
        parent.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


async def test_a_killed_worker_is_named_with_its_signal(triton_server):
    import signal

    from mlops_tui.backends.triton.loadtest_step import StepSpec
    from mlops_tui.backends.triton.loadtest_wire import encode_request
    from mlops_tui.backends.triton.loadtest_worker import WorkerFailed, WorkerPool

    wire = encode_request(endpoint(triton_server, "grpc"), "resnet50", ones(), timeout_s=5.0)
    pool = WorkerPool(wire, 1)
    try:
        await pool.start()
        steps = pool.step([StepSpec("concurrency", 1, 0.0, 30.0)])
        await anext(steps)  # a first tick: the worker is sending
        os.kill(pool.pids[0], signal.SIGKILL)
        with pytest.raises(WorkerFailed, match=r"load worker 0 exited unexpectedly "
                                                r"\(killed by signal 9\)"):
            async for _ in steps:
                pass
    finally:
        pool.close()
