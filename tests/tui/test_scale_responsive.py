"""Scaling the live demo to the most replicas allowed never freezes the UI.

Once, scaling to 5,000 stopped the app for about a minute (the demo's controllers made
every pod at once, each looking at every other one), and a huge number froze it for good.
Now the dialog bounds the number, and the demo makes pods in bursts per tick: the test
scales to MAX_REPLICAS through the dialog, then keeps pressing keys while the pods come,
and no key may wait as long as a freeze. The bound is a freeze (the bug held keys for about
a minute), not a speed target: on a loaded machine a key can take seconds, and how fast keys
are answered is measured by the benchmarks, not here.
"""

from __future__ import annotations

import time

from mlops_tui.backends.actions.operate import MAX_REPLICAS
from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.dialogs import ScaleScreen
from tests.tui.conftest import in_utc

SIZE = (150, 45)
FREEZE_S = 15.0  # a key held this long means the app froze
RAMP_TIMEOUT_S = 120.0  # 10,000 pods at a burst per 0.25 s tick: ~10 s here, bounded


async def test_scale_to_the_maximum_keeps_keys_answered():
    # a live (not frozen) demo, ticking four times a second: the ramp runs while keys come
    backend = DemoBackend(BackendSettings(namespace="triton"), seed=7, tick_interval=0.25)
    await backend.connect()
    app = in_utc(MlopsApp(backend, start_view="deploy", version="test"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.view.table
            table.move_cursor([r.name for r in table.visible_rows()].index("triton-resnet50"))
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, ScaleScreen)
            app.screen.query_one("#replicas").value = str(MAX_REPLICAS)
            started = time.perf_counter()
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, ScaleScreen)
            assert time.perf_counter() - started < FREEZE_S

            await pilot.press("colon", *"po", "enter")
            await pilot.pause()
            pods = app.view
            store = backend.cache(pods.kind, "triton")
            slowest, presses = 0.0, 0
            deadline = time.monotonic() + RAMP_TIMEOUT_S
            while store.state().count < MAX_REPLICAS and time.monotonic() < deadline:
                before = pods.table.cursor_index
                key = "j" if presses % 20 < 10 else "k"
                t = time.perf_counter()
                await pilot.press(key)
                slowest = max(slowest, time.perf_counter() - t)
                presses += 1
                assert pods.table.cursor_index != before or pods.table.visible_count < 2
                await pilot.pause(0.05)
            assert store.state().count >= MAX_REPLICAS, "the ramp did not finish"
            assert presses >= 10
            assert slowest < FREEZE_S, f"a key took {slowest:.2f}s (of {presses})"

            for key in ("colon", *"deploy", "enter"):  # a view opens as fast as a key
                t = time.perf_counter()
                await pilot.press(key)
                slowest = max(slowest, time.perf_counter() - t)
            await pilot.pause()
            assert app.view.kind.name == "deployments"
            assert slowest < FREEZE_S, f"opening a view took {slowest:.2f}s"
            resnet = app.view.table.get_row(next(
                r.uid for r in app.view.table.visible_rows() if r.name == "triton-resnet50"))
            assert resnet.cells[2].endswith(f"/{MAX_REPLICAS}")
    finally:
        await backend.close()
