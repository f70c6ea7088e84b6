"""ResourceTable at 25,000 rows: reset, filter keystrokes, single-row upserts, sorting.

Runs headless (``App.run_test``) and prints ONE JSON line. Each timed step is the table
call plus the repaint that follows (see :func:`paint`). ``*_call_*`` figures time the call
alone; ``*_cpu_*`` the CPU time this process spent on call + paint (steadier than wall
time on a busy machine); ``paint_floor_ms`` what the repaint step costs when nothing
changed (message round trips through every widget); ``pause_floor_ms`` what a bare
``pilot.pause()`` costs (it always sleeps >= 20 ms, which is why it is not used here).

Upserts: ``upsert_*`` change one random row's status and restart count in place (the
common watch event: its sort position, by AGE, stays), ``upsert_move_*`` give it a new
age, so it jumps to a random position (often from above the screen to below it).

Filters run ``--rounds`` passes over 30 strings (typed prefixes, regexes, ``!``, ``-l``,
``-f``, invalid regexes). ``filter_gc_full_*`` counts the full garbage collections that
fell inside those samples: each walks every live object, the 25k rows included, and
with CPython's default thresholds (700, 10, 10) the garbage of a few paints sets one off.
``filter_gc_tuned_*`` repeats the filter samples with ``gc.set_threshold(5000, 10, 10)``,
a setting an app can make at start, under which that garbage dies young.

    .venv/bin/python benchmarks/bench_table.py [--rows 25000] [--seed 7] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import textual
from textual.app import App, ComposeResult

from mlops_tui.backends.models import CacheChanges, Column, Row
from mlops_tui.tui.widgets.resource_table import ResourceTable

COLUMNS = (
    Column("NAMESPACE"),
    Column("NAME"),
    Column("READY"),
    Column("STATUS"),
    Column("RESTARTS", numeric=True),
    Column("AGE", numeric=True),
    Column("IP", wide_only=True),
    Column("NODE", wide_only=True),
)
STATUSES = (("Running", "ok"), ("Pending", "warn"), ("CrashLoopBackOff", "error"))
FILTERS = (
    "n", "ng", "ngi", "ngin", "nginx", "nginx-", "nginx-7",
    "c", "cr", "cra", "crash", "crashloop",
    "!", "!R", "!Ru", "!Running",
    "team-3", "team-3.*api", "^team-1", "pod-12", "pod-12[0-9]+$", "worker|api",
    "-l", "-l app=nginx", "-l app=nginx,tier!=web", "-l tier in (web,api)",
    "-f ngx7", "[unclosed", "(", "",
)  # fmt: skip


def make_row(i: int, rng: random.Random, version: int = 0) -> Row:
    app = rng.choice(("nginx", "api", "worker", "redis", "trainer"))
    ns = f"team-{i % 40}"
    name = f"{app}-{i:06d}-{rng.randrange(16**5):05x}"
    status, level = STATUSES[0] if rng.random() < 0.9 else rng.choice(STATUSES[1:])
    restarts = rng.randrange(5) if level == "ok" else rng.randrange(200)
    age = rng.randrange(60, 90 * 86400) + version
    ip = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
    node = f"node-{i % 300:03d}"
    cells = (ns, name, "1/1", status, str(restarts), f"{age // 86400}d", ip, node)
    return Row(
        uid=f"uid-{i}",
        name=name,
        namespace=ns,
        cells=cells,
        labels={"app": app, "tier": rng.choice(("web", "api", "batch"))},
        sort_keys=(ns, name, 1.0, status, float(restarts), float(age), ip, node),
        status=level if level != "ok" else "",
    )


class BenchApp(App):
    def compose(self) -> ComposeResult:
        yield ResourceTable(COLUMNS)


async def paint(pilot) -> None:
    """What ``pilot.pause()`` does minus its idle sleep (>= 20 ms, it would swamp the
    figures): let every widget drain its message queue, then run the screen update that
    lays out and repaints dirty widgets, synchronously. Private Textual API, bench only."""
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class GcPauses:
    """Full (generation 2) collections seen while active: count and longest, in ms."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0
        self.active = False
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self.active and info["generation"] == 2:
            self.pauses.append(time.perf_counter() - self._start)


async def time_filters(table: ResourceTable, pilot, rounds: int) -> tuple[list, list, list]:
    """Each filter string in turn, ``rounds`` times: seconds of (call + paint) wall time,
    call wall time, and (call + paint) CPU time of this process."""
    total, call, cpu = [], [], []
    for _ in range(rounds):
        for text in FILTERS:
            c0, t0 = time.process_time(), time.perf_counter()
            table.set_filter(text)
            call.append(time.perf_counter() - t0)
            await paint(pilot)
            total.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return total, call, cpu


async def time_upserts(
    table: ResourceTable, pilot, make: Callable[[int], Row], count: int = 200
) -> tuple[list, list, list]:
    """``count`` single-row upserts: (call + paint, call, CPU) seconds, as for filters."""
    total, call, cpu = [], [], []
    for version in range(2, 2 + count):
        changes = CacheChanges(version, (make(version),), (), False)
        c0, t0 = time.process_time(), time.perf_counter()
        table.apply(changes)
        call.append(time.perf_counter() - t0)
        await paint(pilot)
        total.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return total, call, cpu


async def run(rows: int, seed: int, rounds: int) -> dict:
    rng = random.Random(seed)
    data = [make_row(i, rng) for i in range(rows)]
    gc_pauses = GcPauses()
    app = BenchApp()
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        await pilot.pause()
        floor = []
        for _ in range(5):
            t0 = time.perf_counter()
            await pilot.pause()
            floor.append(time.perf_counter() - t0)
        lines = 0
        render_line = table.render_line

        def counting_render_line(y: int):
            nonlocal lines
            lines += 1
            return render_line(y)

        table.render_line = counting_render_line  # proves paint() really repaints

        t0 = time.perf_counter()
        table.apply(CacheChanges(1, tuple(data), (), True))
        t_call = time.perf_counter() - t0
        await paint(pilot)
        reset = time.perf_counter() - t0
        assert table.row_count == rows

        gc_pauses.active = True
        filter_total, filter_call, filter_cpu = await time_filters(table, pilot, rounds)
        gc_pauses.active = False
        default_pauses = gc_pauses.pauses
        assert table.visible_count == rows
        assert lines >= len(filter_total) * 40, lines

        table.sort_by(5)  # AGE, numeric: upserts below must bisect into a real order
        await paint(pilot)
        table.move_cursor(rows // 2)

        def status_change(version: int) -> Row:  # the common watch event: same sort position
            old = table.get_row(f"uid-{rng.randrange(rows)}")
            status, level = rng.choice(STATUSES)
            restarts = int(old.cells[4]) + 1
            cells = (*old.cells[:3], status, str(restarts), *old.cells[5:])
            keys = (*old.sort_keys[:4], float(restarts), *old.sort_keys[5:])
            status = level if level != "ok" else ""
            return dataclasses.replace(old, cells=cells, sort_keys=keys, status=status)

        def move(version: int) -> Row:  # a new age: the row moves to a random position
            i = rng.randrange(rows)
            return dataclasses.replace(make_row(i, rng, version), uid=f"uid-{i}")

        upsert_total, upsert_call, upsert_cpu = await time_upserts(table, pilot, status_change)
        move_total, _, _ = await time_upserts(table, pilot, move)
        assert table.row_count == rows
        idle = []
        for _ in range(20):
            t0 = time.perf_counter()
            await paint(pilot)
            idle.append(time.perf_counter() - t0)

        sorts = {}
        for label, column in (("sort_numeric_ms", 4), ("sort_text_ms", 1), ("sort_toggle_ms", 1)):
            t0 = time.perf_counter()
            table.sort_by(column)
            await paint(pilot)
            sorts[label] = ms(time.perf_counter() - t0)

        # What an app can set at start: a larger young generation, so a paint's garbage
        # is collected young instead of being promoted into full collections.
        thresholds = gc.get_threshold()
        gc.set_threshold(5000, *thresholds[1:])
        gc_pauses.pauses, gc_pauses.active = [], True
        tuned_total, _, _ = await time_filters(table, pilot, rounds)
        gc_pauses.active = False
        gc.set_threshold(*thresholds)

    return {
        "bench": "resource_table",
        "rows": rows,
        "reset_apply_paint_ms": ms(reset),
        "reset_call_ms": ms(t_call),
        "filter_strings": len(FILTERS),
        "filter_samples": len(filter_total),
        "filter_p50_ms": ms(pct(filter_total, 0.5)),
        "filter_p95_ms": ms(pct(filter_total, 0.95)),
        "filter_max_ms": ms(max(filter_total)),
        "filter_call_p50_ms": ms(pct(filter_call, 0.5)),
        "filter_call_p95_ms": ms(pct(filter_call, 0.95)),
        "filter_cpu_p50_ms": ms(pct(filter_cpu, 0.5)),
        "filter_cpu_p95_ms": ms(pct(filter_cpu, 0.95)),
        "filter_gc_full_collections": len(default_pauses),
        "filter_gc_full_max_ms": ms(max(default_pauses, default=0.0)),
        "filter_gc_tuned_p50_ms": ms(pct(tuned_total, 0.5)),
        "filter_gc_tuned_p95_ms": ms(pct(tuned_total, 0.95)),
        "filter_gc_tuned_full_collections": len(gc_pauses.pauses),
        "upserts": len(upsert_total),
        "upsert_p50_ms": ms(pct(upsert_total, 0.5)),
        "upsert_p95_ms": ms(pct(upsert_total, 0.95)),
        "upsert_call_p95_ms": ms(pct(upsert_call, 0.95)),
        "upsert_cpu_p95_ms": ms(pct(upsert_cpu, 0.95)),
        "upsert_move_p50_ms": ms(pct(move_total, 0.5)),
        "upsert_move_p95_ms": ms(pct(move_total, 0.95)),
        **sorts,
        "paint_floor_ms": ms(statistics.median(idle)),
        "pause_floor_ms": ms(statistics.median(floor)),
        "lines_painted": lines,
        "textual": textual.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the filter strings")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rows, args.seed, args.rounds))))


if __name__ == "__main__":
    main()
