"""Panel refresh cost against a real Prometheus scraping a real Triton and the fixture DCGM
exporter (tests/servers): round-trip time of one refresh per screen, queries per refresh,
and the app's CPU with a dashboard open (target: <= 3 % of a core at a 2 s refresh).
Prints one JSON line.

    python benchmarks/bench_metrics.py                 # 60 s of dashboard CPU
    python benchmarks/bench_metrics.py --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops_tui.backends.metrics_models import Screen, Window  # noqa: E402
from mlops_tui.backends.models import MetricsSettings  # noqa: E402
from mlops_tui.backends.prometheus import PrometheusSource  # noqa: E402
from mlops_tui.backends.prometheus.queries import SCREENS  # noqa: E402
from tests.servers.dcgm import DEFAULT_GPUS, DcgmExporter  # noqa: E402
from tests.servers.prometheus import PrometheusServer, ScrapeTarget  # noqa: E402
from tests.servers.triton import TritonServer  # noqa: E402


def drive(triton: TritonServer, stop: threading.Event) -> None:
    """Steady, bounded inference load so rates and latencies are live."""
    deadline = time.monotonic() + 600
    while not stop.is_set() and time.monotonic() < deadline:
        triton.infer("resnet50", count=5, batch=2)
        triton.infer("bert", count=1)
        stop.wait(0.2)


async def round_trips(url: str, rounds: int) -> dict:
    source = PrometheusSource(url, MetricsSettings(rate_window="15s"))
    out = {}
    try:
        for screen in Screen:
            times, sent = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                snap = await source.snapshot(screen, Window.M15)
                times.append((time.perf_counter() - started) * 1000)
                sent.append(snap.queries)
                await asyncio.sleep(0.2)
            times.sort()
            out[screen.value] = {"refresh_ms_p50": round(statistics.median(times), 1),
                                 "refresh_ms_p95": round(times[int(0.95 * (len(times) - 1))], 1),
                                 "queries_per_refresh_max": len(SCREENS[screen]),
                                 "queries_per_refresh_mean": round(statistics.mean(sent), 2)}
    finally:
        await source.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--screen", default="pulse")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    stop = threading.Event()
    with TritonServer(workdir=work / "triton") as triton:
        dcgm = DcgmExporter(DEFAULT_GPUS)
        dcgm.start()
        targets = [ScrapeTarget("triton", triton.metrics_port,
                                labels={"namespace": "serving", "pod": "triton-0"}),
                   ScrapeTarget("dcgm", dcgm.port, honor_labels=True)]
        try:
            with PrometheusServer(targets, scrape_interval="2s", workdir=work / "prom") as prom:
                loader = threading.Thread(target=drive, args=(triton, stop), daemon=True)
                loader.start()
                prom.wait_for("sum(rate(nv_inference_request_success[15s])) > 0", timeout=60)
                trips = asyncio.run(round_trips(prom.url, args.rounds))
                probe = subprocess.run(
                    [sys.executable, str(ROOT / "benchmarks" / "_dashboard_probe.py"),
                     "--prometheus", prom.url, "--screen", args.screen,
                     "--seconds", str(args.seconds), "--refresh", "2"],
                    capture_output=True, text=True, timeout=args.seconds + 120)
                stop.set()
                loader.join(10)
                if probe.returncode != 0:
                    raise SystemExit(f"probe failed:\n{probe.stderr[-3000:]}")
                cpu = json.loads(probe.stdout.strip().splitlines()[-1])
        finally:
            dcgm.stop()
    print(json.dumps({"benchmark": "metrics_panels", "refresh_s": 2, "screens": trips,
                      "dashboard": cpu}))


if __name__ == "__main__":
    main()
