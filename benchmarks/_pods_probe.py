"""Child process of bench_pods.py: the real app, headless, against the real apiserver.

Prints one JSON line: when the pods table was fully populated (epoch seconds), filter
keystroke latencies, peak RSS and list/watch requests during the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from textual import events

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlops_tui.backends.kubernetes import KubernetesBackend  # noqa: E402
from mlops_tui.backends.models import BackendSettings  # noqa: E402
from mlops_tui.tui.app import MlopsApp  # noqa: E402

KEY_NAMES = {" ": "space", "!": "exclamation_mark", "-": "minus", "=": "equals_sign"}

FILTERS = ["bench-1", "gpu", "!Pending", "node-0", "ns-3", "x9", "-l app=bench-7", "bench-12"]


async def probe(args: argparse.Namespace) -> dict:
    backend = KubernetesBackend(BackendSettings(kubeconfig=args.kubeconfig, all_namespaces=True))
    await backend.connect()
    app = MlopsApp(backend, start_view="pods")
    result: dict = {}
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            view = app.view
            if view is not None and view.table.row_count >= args.pods and (
                    view.cache.state().synced):
                break
            await asyncio.sleep(0.01)
        await pilot.pause()
        result["populated_at"] = time.time()
        result["rows"] = app.view.table.row_count

        latencies = []
        for text in FILTERS:
            await pilot.press("slash")
            typed = ""
            for ch in text:
                typed += ch
                started = time.perf_counter()
                # as the terminal driver does: a key event into the app's queue ...
                app.post_message(events.Key(KEY_NAMES.get(ch, ch), ch))
                # ... handled (the bar posts FilterChanged, the view filters) ...
                while app.view.table.filter_text != typed:
                    await asyncio.sleep(0)
                # ... and the screen repainted. pilot.pause() would add an idle sleep of
                # >= 20 ms, so run the screen's update synchronously (private API).
                await pilot._wait_for_screen()
                app.screen._on_timer_update()
                latencies.append((time.perf_counter() - started) * 1000)
            await pilot.press("escape")
            await pilot.pause()
        latencies.sort()
        result["filter_ms_p50"] = round(statistics.median(latencies), 2)
        result["filter_ms_p95"] = round(latencies[int(len(latencies) * 0.95) - 1], 2)
        result["filter_keystrokes"] = len(latencies)

        before = backend.request_stats()
        await asyncio.sleep(args.steady)
        after = backend.request_stats()
        result["steady_s"] = args.steady
        result["steady_list_requests"] = after["list_requests"] - before["list_requests"]
        result["steady_watch_requests"] = after["watch_requests"] - before["watch_requests"]
    await backend.close()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument("--steady", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=300)
    print(json.dumps(asyncio.run(probe(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
