"""Our load test against perf_analyzer (Triton's own C++ load generator) on the same bare
tritonserver (tests/servers/triton.py), same model and input, in the same run: concurrency
1, 4 and 16 over gRPC and HTTP.

Each cell is measured ``--rounds`` times per tool, alternating which goes first; a cell's
ratio is the median of its rounds' ratios (the machine is shared: single runs swing by
tens of percent).
Prints one JSON line: per cell requests/s and p99 of both and their ratios, ending with
``min_ratio``, the lowest ours/perf_analyzer requests/s over all cells (target >= 1.0, with
p99 no worse than 1.2x). Needs ``bash benchmarks/setup-perf-analyzer.sh`` and the triton
venv (``bash tests/servers/setup-triton.sh``).

    python benchmarks/bench_loadtest.py                   # 3 rounds of 3 x 2 s per cell and tool
    python benchmarks/bench_loadtest.py --seconds 1 --rounds 5 --workers 1 --protocols grpc
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from mlops_tui.backends.triton.loadtest import LoadPlan, StepResult, run_loadtest  # noqa: E402
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint  # noqa: E402
from tests.servers.triton import INPUT_NAME, WIDTH, TritonServer  # noqa: E402

MODEL = "resnet50"
LEVELS = (1, 4, 16)
SETUP = ROOT / "benchmarks" / "setup-perf-analyzer.sh"


def perf_analyzer_command() -> tuple[dict[str, str], str]:
    """Install (idempotent) and locate perf_analyzer: its environment and binary."""
    out = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"setup-perf-analyzer.sh failed:\n{out.stdout}{out.stderr}")
    last = out.stdout.strip().splitlines()[-1]
    assign, binary = last.split(" ", 1)
    env = dict(os.environ, LD_LIBRARY_PATH=assign.split("=", 1)[1])
    return env, binary


def run_perf_analyzer(env: dict[str, str], binary: str, protocol: str, url: str,
                      concurrency: int, seconds: float, workdir: Path) -> dict:
    """One perf_analyzer measurement: its requests/s and p99 (ms) from its CSV report."""
    report = workdir / f"pa-{protocol}-{concurrency}.csv"
    argv = [
        binary, "-m", MODEL, "-i", protocol, "-u", url,
        f"--concurrency-range={concurrency}:{concurrency}",
        f"--shape={INPUT_NAME}:{WIDTH}", "-b", "1",
        "--measurement-interval", str(int(seconds * 1000)),
        # every window counts as stable: the figures are the mean of exactly 3 windows,
        # whatever the neighbours on a shared machine do (ours measures 3 windows' time)
        "--stability-percentage", "1000", "--max-trials", "3",
        "-f", str(report),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode != 0 or not report.exists():
        sys.exit(f"perf_analyzer failed ({done.returncode}):\n{done.stdout[-2000:]}"
                 f"{done.stderr[-2000:]}")
    with report.open() as f:
        row = next(csv.DictReader(f))
    return {"rps": float(row["Inferences/Second"]), "p99_ms": float(row["p99 latency"]) / 1000}


async def run_ours(protocol: str, address: str, concurrency: int, seconds: float,
                   workers: int) -> StepResult:
    inputs = (InputTensor(INPUT_NAME, "FP32", np.ones((1, WIDTH), np.float32)),)
    plan = LoadPlan(MODEL, inputs, concurrency=(concurrency,), duration_s=seconds,
                    warmup_s=1.0, workers=workers)
    result = None
    async for item in run_loadtest(TritonEndpoint(address, protocol), plan):
        if isinstance(item, StepResult):
            result = item
    assert result is not None
    return result


def cell(protocol: str, concurrency: int, pa_runs: list[dict], our_runs: list[dict]) -> dict:
    """One cell: medians over the rounds and every round's requests/s. The ratios are the
    medians of each round's ratio (the two tools of one round ran back to back, so a
    neighbour's burst on the shared machine moves both)."""
    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    ours_rps, pa_rps = med(our_runs, "rps"), med(pa_runs, "rps")
    ours_p99, pa_p99 = med(our_runs, "p99_ms"), med(pa_runs, "p99_ms")
    return {
        "protocol": protocol,
        "concurrency": concurrency,
        "ours_rps": round(ours_rps, 1),
        "pa_rps": round(pa_rps, 1),
        "rps_ratio": round(statistics.median(
            o["rps"] / p["rps"] for o, p in zip(our_runs, pa_runs, strict=True)), 3),
        "ours_p99_ms": round(ours_p99, 3),
        "pa_p99_ms": round(pa_p99, 3),
        "p99_ratio": round(statistics.median(
            o["p99_ms"] / p["p99_ms"] for o, p in zip(our_runs, pa_runs, strict=True)), 3),
        "ours_rps_rounds": [round(r["rps"]) for r in our_runs],
        "pa_rps_rounds": [round(r["rps"]) for r in pa_runs],
        "ours_errors": sum(r["errors"] for r in our_runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="perf_analyzer's window (it measures 3); ours measures as long")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements per cell and tool (medians are reported)")
    parser.add_argument("--protocols", default="grpc,http")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrency")
    parser.add_argument("--workers", type=int, default=0, help="our worker processes (0: choose)")
    args = parser.parse_args()
    env, binary = perf_analyzer_command()
    cells = []
    with TritonServer() as triton, tempfile.TemporaryDirectory() as tmp:
        addresses = {"grpc": triton.grpc_address, "http": f"127.0.0.1:{triton.http_port}"}
        for protocol in args.protocols.split(","):
            for c in [int(x) for x in args.levels.split(",")]:
                pa_runs, our_runs = [], []
                for r in range(args.rounds):  # alternate who goes first: drift hits both
                    for tool in ("pa", "ours") if r % 2 == 0 else ("ours", "pa"):
                        if tool == "pa":
                            pa_runs.append(run_perf_analyzer(
                                env, binary, protocol, addresses[protocol], c, args.seconds,
                                Path(tmp)))
                        else:
                            ours = asyncio.run(run_ours(protocol, addresses[protocol], c,
                                                        3 * args.seconds, args.workers))
                            our_runs.append({"rps": ours.throughput_rps,
                                             "p99_ms": ours.p99_ms,
                                             "errors": ours.error_count})
                cells.append(cell(protocol, c, pa_runs, our_runs))
    print(json.dumps({
        "bench": "loadtest_vs_perf_analyzer",
        "model": MODEL,
        "seconds": args.seconds,
        "workers": args.workers,
        "rounds": args.rounds,
        "cells": cells,
        "max_p99_ratio": max(c["p99_ratio"] for c in cells),
        "min_ratio": min(c["rps_ratio"] for c in cells),
    }))


if __name__ == "__main__":
    main()
