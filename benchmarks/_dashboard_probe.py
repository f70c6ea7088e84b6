"""Child process of bench_metrics.py: the real app, headless, with one dashboard open.

Prints one JSON line: CPU seconds used while the dashboard sat open for ``--seconds``, and
how many refreshes ran. The cluster side is the frozen demo backend, so the figure is the
panels' own cost (polls, joins, tables, plots)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlops_tui.backends.demo import DemoBackend  # noqa: E402
from mlops_tui.backends.models import BackendSettings, MetricsSettings  # noqa: E402
from mlops_tui.backends.prometheus import PrometheusSource  # noqa: E402
from mlops_tui.tui.app import MlopsApp  # noqa: E402
from mlops_tui.tui.views.dashboard_view import DashboardView  # noqa: E402


async def probe(args: argparse.Namespace) -> dict:
    backend = DemoBackend(BackendSettings(), frozen=True)
    await backend.connect()
    source = PrometheusSource(args.prometheus, MetricsSettings(rate_window="15s"))
    app = MlopsApp(backend, metrics=source, refresh=args.refresh)
    async with app.run_test(size=(170, 50)) as pilot:
        await pilot.press("colon", *args.screen, "enter")
        while not (isinstance(app.view, DashboardView) and app.view.refreshes):
            await asyncio.sleep(0.05)
        view = app.view
        first = view.refreshes
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        result = {"screen": args.screen, "seconds": round(wall, 1),
                  "cpu_s": round(cpu, 3), "cpu_pct_of_core": round(100 * cpu / wall, 2),
                  "refreshes": view.refreshes - first, "stale": bool(view.error)}
    await source.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--screen", default="pulse")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--refresh", type=float, default=2.0)
    print(json.dumps(asyncio.run(probe(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
