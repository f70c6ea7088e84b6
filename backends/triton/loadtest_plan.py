"""What a load test runs: :class:`LoadPlan` (checked on construction) and the
:class:`LoadProgress` it reports while running."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

from mlops_tui.backends.triton.loadtest_step import StepSpec
from mlops_tui.backends.triton.tensors import InputTensor

MAX_CONCURRENCY = 4096
MAX_RATE = 1_000_000.0
MIN_DURATION_S, MAX_DURATION_S = 0.1, 3600.0
MAX_REQUESTS = 10_000_000
MAX_WORKERS = 64
MAX_STEPS = 1000
#: what one event loop drives as well as perf_analyzer's threads do (measured with
#: benchmarks/bench_loadtest.py); beyond it ``workers=0`` adds processes. HTTP needs one
#: connection per request in flight, and one loop serving 16 fell ~15 % behind two loops;
#: gRPC multiplexes them on one connection and one loop did best at 16.
LOOP_CONCURRENCY = {"http": 8, "grpc": 256}
LOOP_RATE = 2500.0


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
    share of the load; 0 chooses: one while one loop keeps up (:data:`LOOP_CONCURRENCY`,
    :data:`LOOP_RATE`), else one per loop's worth. The load never runs on the caller's loop:
    a screen drawing on it (or a script's own tasks) would add its work to every round
    trip. ``request_timeout_s`` bounds each request (kind "timeout").
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

    def processes(self, protocol: str = "http") -> int:
        """How many worker processes drive the load over ``protocol``: ``workers``, or when
        0, one per loop's worth of load (at least one, at most one per CPU)."""
        if self.workers:
            return self.workers
        per_loop = LOOP_CONCURRENCY.get(protocol, LOOP_CONCURRENCY["http"])
        need = math.ceil(max(max(self.concurrency, default=0) / per_loop,
                             max(self.rates, default=0.0) / LOOP_RATE))
        return max(1, min(os.cpu_count() or 1, need))

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
