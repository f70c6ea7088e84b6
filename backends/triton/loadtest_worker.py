"""Worker processes for the load test: one event loop each, steered over a pipe.

Used when one event loop cannot keep up with the plan. Each worker is a ``multiprocessing``
spawn child that builds its own sender from the encoded request and runs its share of each
step (:func:`~mlops_tui.backends.triton.loadtest_step.run_step`).

Messages, parent → worker: ``("step", StepSpec)``; the pipe's end (EOF) means stop now.
Worker → parent: ``("ready",)``, ``("tick", ok, errors, measured)`` a few times a second,
``("result", latency_bytes, errors, window_s)``, ``("failed", message)``.

A worker exits when the parent closes its pipe or dies (EOF), and ignores SIGINT: Ctrl-C
reaches the parent, which ends its workers by PID (terminate, then kill).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
from array import array
from collections.abc import AsyncIterator, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from mlops_tui.backends.triton.loadtest_step import StepCounters, StepSamples, StepSpec, run_step
from mlops_tui.backends.triton.loadtest_wire import WireRequest, make_sender

TICK_S = 0.2
READY_TIMEOUT_S = 60.0


class WorkerFailed(RuntimeError):
    """A worker process died or reported an internal failure."""


# --------------------------------------------------------------------------- child side


def worker_main(conn: Connection, wire: WireRequest) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker reports over its pipe only: it shares the parent's terminal, and under the
    # TUI a stray warning written there would draw over the screen
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, EOFError):
        try:
            _run(_serve(conn, wire))
        except Exception as e:  # with no stderr to print on, the parent tells what it was
            conn.send(("failed", f"{type(e).__name__}: {e}"))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed: its loop costs a fraction of asyncio's per
    wake-up, which at one request in flight is most of the client's share of each round
    trip. The worker is a process of its own, so the choice touches no other loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(conn: Connection, wire: WireRequest) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    fd = conn.fileno()

    def readable() -> None:
        try:
            inbox.put_nowait(conn.recv())
        except (EOFError, OSError):
            loop.remove_reader(fd)
            inbox.put_nowait(None)

    loop.add_reader(fd, readable)
    # uvloop makes a watched descriptor non-blocking; the pipe's messages are read and
    # written whole, so a half-arrived one must wait, not fail with EAGAIN (which ended
    # the worker as if its parent had gone)
    os.set_blocking(fd, True)
    sender = make_sender(wire)
    conn.send(("ready",))
    try:
        while (msg := await inbox.get()) is not None:
            counters = StepCounters()
            step = loop.create_task(run_step(sender, msg[1], counters))
            getter = loop.create_task(inbox.get())
            while not step.done():
                await asyncio.wait({step, getter}, timeout=TICK_S,
                                   return_when=asyncio.FIRST_COMPLETED)
                if getter.done():  # only EOF comes during a step
                    step.cancel()
                    return
                conn.send(("tick", counters.ok, counters.errors, counters.measured))
            getter.cancel()
            try:
                samples = step.result()
            except Exception as e:  # a bug, not a failed request: tell the parent
                conn.send(("failed", f"{type(e).__name__}: {e}"))
                return
            conn.send(("tick", counters.ok, counters.errors, counters.measured))
            conn.send(("result", samples.latencies.tobytes(), samples.errors, samples.window_s))
    finally:
        await sender.close()


# --------------------------------------------------------------------------- parent side


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the process's real stderr.

    The first spawn starts the tracker and hands it ``sys.stderr``'s descriptor; under a
    full-screen UI ``sys.stderr`` is the UI's capture object, whose ``fileno()`` is -1, and
    the spawn fails ("bad value(s) in fds_to_keep").
    """
    from multiprocessing import resource_tracker

    shown = sys.stderr
    try:
        sys.stderr = sys.__stderr__ or shown
        resource_tracker.ensure_running()
    finally:
        sys.stderr = shown


class WorkerPool:
    """``count`` worker processes for the length of a load test.

    Use :meth:`start`, then :meth:`step` per step, and always :meth:`close` (synchronous,
    safe from ``finally`` or after cancellation).
    """

    def __init__(self, wire: WireRequest, count: int) -> None:
        self._wire = wire
        self._count = count
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._conns: list[Connection] = []
        self._inbox: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    async def start(self) -> None:
        """Spawn the workers and wait until each has its sender ready."""
        self._loop = asyncio.get_running_loop()
        _start_resource_tracker()
        ctx = multiprocessing.get_context("spawn")
        for i in range(self._count):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child_end, self._wire),
                               name=f"mlops-tui-load-{i}", daemon=True)
            proc.start()
            child_end.close()
            self._procs.append(proc)
            self._conns.append(parent_end)
            self._loop.add_reader(parent_end.fileno(), self._readable, i)
            os.set_blocking(parent_end.fileno(), True)  # whole messages (see _serve)
        waiting = set(range(self._count))
        async with asyncio.timeout(READY_TIMEOUT_S):
            while waiting:
                i, msg = await self._next()
                if msg[0] != "ready":
                    raise WorkerFailed(f"load worker {i} did not start: {msg}")
                waiting.discard(i)

    def _readable(self, i: int) -> None:
        conn = self._conns[i]
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            assert self._loop is not None
            self._loop.remove_reader(conn.fileno())
            msg = ("gone",)
        self._inbox.put_nowait((i, msg))

    async def _next(self) -> tuple[int, Any]:
        i, msg = await self._inbox.get()
        if msg[0] == "gone":
            proc = self._procs[i]
            await asyncio.to_thread(proc.join, 1.0)
            code = proc.exitcode
            how = ("" if code is None else f" (killed by signal {-code})" if code < 0
                   else f" (exit code {code})")
            raise WorkerFailed(f"load worker {i} exited unexpectedly{how}")
        if msg[0] == "failed":
            raise WorkerFailed(f"load worker {i} failed: {msg[1]}")
        return i, msg

    async def step(self, specs: list[StepSpec | None]
                   ) -> AsyncIterator[StepCounters | StepSamples]:
        """Run one step: ``specs[i]`` is worker i's share (None: it sits this one out).

        Yields the summed counters about every :data:`TICK_S`, then the merged samples.
        """
        active = {i for i, spec in enumerate(specs) if spec is not None}
        for i in active:
            self._conns[i].send(("step", specs[i]))
        ticks = {i: (0, 0, 0) for i in active}
        merged = StepSamples()
        pending = set(active)
        while pending:
            i, msg = await self._next()
            if msg[0] == "tick":
                ticks[i] = msg[1:]
                yield StepCounters(*(sum(t[k] for t in ticks.values()) for k in range(3)))
            elif msg[0] == "result":
                latencies = array("d")
                latencies.frombytes(msg[1])
                merged.latencies.extend(latencies)
                for kind, n in msg[2].items():
                    merged.errors[kind] = merged.errors.get(kind, 0) + n
                merged.window_s = max(merged.window_s, msg[3])
                pending.discard(i)
        yield merged

    def close(self) -> None:
        """End every worker by its PID: close its pipe, SIGTERM, then SIGKILL if needed."""
        for conn in self._conns:
            with contextlib.suppress(Exception):
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(conn.fileno())
            conn.close()
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        self._procs.clear()
        self._conns.clear()
