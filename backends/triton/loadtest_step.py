"""One load step in one event loop: closed-loop concurrency or open-loop request rate.

:func:`run_step` drives a sender (anything with ``async send() -> str | None``) and
returns the raw samples of its measurement window; merging samples of several loops and
computing figures is the caller's business (see ``loadtest_results.summarize``).

The window starts ``warmup_s`` after the step starts. A request counts when it completes
inside the window: its latency (successes) or its error kind (failures). When the window
closes, requests still in flight get a short grace period, then are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from array import array
from dataclasses import dataclass, field
from typing import Protocol

#: requests still in flight when a window closes get this long before being cancelled
GRACE_S = 2.0
#: rate mode: scheduled sends beyond this many in flight are skipped (counted "dropped")
MAX_IN_FLIGHT = 4096


class Sender(Protocol):
    async def send(self) -> str | None: ...


@dataclass(frozen=True)
class StepSpec:
    """This loop's share of one step.

    ``level`` is the number of concurrent requests (concurrency) or requests/s (rate).
    ``requests`` (concurrency mode) ends the window after that many completions instead
    of after ``duration_s``; rate mode always runs for ``duration_s``.
    """

    mode: str
    level: float
    warmup_s: float
    duration_s: float | None
    requests: int | None = None


@dataclass
class StepCounters:
    """Live counts for progress: completions since the step started, and in the window."""

    ok: int = 0
    errors: int = 0
    measured: int = 0


@dataclass
class StepSamples:
    """What one loop measured: latencies (s) of successes, failures by kind, window (s)."""

    latencies: array = field(default_factory=lambda: array("d"))
    errors: dict[str, int] = field(default_factory=dict)
    window_s: float = 0.0


async def run_step(sender: Sender, spec: StepSpec, counters: StepCounters) -> StepSamples:
    """Run one step to the end of its window and return its samples.

    Never raises for a failed request (it is counted by kind); cancelling the call cancels
    every request in flight.
    """
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    samples = StepSamples()
    latencies, errors = samples.latencies, samples.errors
    t0 = clock()
    win_start = t0 + spec.warmup_s
    win_end = win_start + spec.duration_s if spec.duration_s is not None else math.inf
    target = spec.requests or 0
    finished = loop.create_future()
    last_end = win_start

    def finish() -> None:
        if not finished.done():
            finished.set_result(None)

    def record(started: float, ended: float, kind: str | None) -> None:
        nonlocal last_end
        if kind is None:
            counters.ok += 1
        else:
            counters.errors += 1
        if ended < win_start or finished.done():
            return
        if ended > win_end:
            finish()
            return
        if kind is None:
            latencies.append(ended - started)
        else:
            errors[kind] = errors.get(kind, 0) + 1
        counters.measured += 1
        last_end = ended
        if counters.measured == target:
            finish()

    send = sender.send

    async def user() -> None:  # closed loop: the next request when the last one answered
        while not finished.done():
            started = clock()
            kind = await send()
            record(started, clock(), kind)

    async def one() -> None:
        started = clock()
        kind = await send()
        record(started, clock(), kind)

    tasks: set[asyncio.Task] = set()
    timer = loop.call_later(win_end - t0, finish) if spec.duration_s is not None else None
    try:
        if spec.mode == "concurrency":
            tasks.update(loop.create_task(user()) for _ in range(int(spec.level)))
            await finished
        else:
            await _schedule(one, spec.level, win_start, win_end, finished, tasks, errors)
        if tasks:
            await asyncio.wait(tasks, timeout=GRACE_S)
    finally:
        if timer is not None:
            timer.cancel()
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
    end = win_end if spec.duration_s is not None else last_end
    samples.window_s = max(end - win_start, 0.0)
    return samples


async def _schedule(
    one, rate: float, win_start: float, win_end: float, finished: asyncio.Future,
    tasks: set[asyncio.Task], errors: dict[str, int],
) -> None:
    """Open loop: start ``one()`` every ``1/rate`` s, whatever the answers do, until the
    window ends. Late ticks are caught up at once (constant arrival schedule)."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    interval = 1.0 / rate
    due = clock()
    while not finished.done():
        now = clock()
        if now >= win_end:
            break
        while due <= now:
            if len(tasks) < MAX_IN_FLIGHT:
                task = loop.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                due += interval
                continue
            # full: every send due by now is skipped at once (no loop per skipped send)
            late = int((now - due) / interval) + 1
            if due >= win_start:
                counted = late
            else:  # only those due inside the window count
                counted = 0 if now < win_start else math.floor((now - win_start) / interval) + 1
            if counted:
                errors["dropped"] = errors.get("dropped", 0) + counted
            due += late * interval
        await asyncio.sleep(max(0.0, due - clock()))
