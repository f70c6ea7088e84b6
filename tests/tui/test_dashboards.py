"""The metrics dashboards over the frozen demo metrics source: tables, plots, stale/recover,
no overlapping polls, nothing fetched while hidden."""

from __future__ import annotations

import asyncio

from mlops_tui.backends.metrics_models import Window
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.views.dashboard_view import DashboardView
from mlops_tui.tui.widgets.cluster_header import ClusterHeader
from mlops_tui.tui.widgets.metric_plot import MetricPlot

SIZE = (170, 50)


async def wait_until(pilot, predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


async def open_dashboard(pilot, name: str) -> DashboardView:
    await pilot.press("colon", *name, "enter")
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.view, DashboardView) and app.view.refreshes)
    return app.view


async def test_gpu_dashboard_table_summary_and_plot(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_dashboard(pilot, "gpu")
        table = view.query_one("#gpu-table")
        assert table.row_count == 23  # 8 + 7 MIG slices + 8
        summary = str(view.query_one(".summary").render())
        assert "requested" in summary and "allocated but idle" in summary
        idle = [r for r in table.visible_rows() if "idle" in r.cells[-1]]
        assert len(idle) == 2 and all(r.status == "warn" for r in idle)
        assert any(r.status == "error" and r.cells[7] == "79" for r in table.visible_rows())
        mig = [r for r in table.visible_rows() if "mig" in r.cells[1]]
        assert mig and all(r.cells[3].endswith("*") for r in mig)  # engine-active fallback
        plot = view.query_one(MetricPlot)
        assert "GPU utilization" in plot.border_title
        status = str(view.query_one(".status").render())
        assert "● demo metrics (simulated)" in status
        assert "queries" not in status  # the demo sends none, and shows no count
        assert app.query_one(ClusterHeader).sync.startswith("● demo metrics")


async def test_models_dashboard_quantiles_and_avg_only(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_dashboard(pilot, "models")
        rows = {r.cells[0]: r for r in view.query_one("#model-table").visible_rows()}
        assert rows["gpt2"].cells[6] == "avg only" and rows["gpt2"].status == "error"
        assert rows["bert"].cells[6] != "avg only" and float(rows["bert"].cells[7]) > 0
        assert float(rows["resnet50"].cells[3]) > 100
        assert len(view.query(MetricPlot)) == 2


async def test_window_keys_change_the_range(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_dashboard(pilot, "pulse")
        assert view.window is Window.M15
        before = view.refreshes
        await pilot.press("3")
        await wait_until(pilot, lambda: view.refreshes > before)
        assert view.window is Window.H1 and view.last.window is Window.H1
        await pilot.press("w")
        await wait_until(pilot, lambda: view.last.window is Window.H6)


async def test_outage_marks_stale_then_recovers(make_app):
    app = await make_app(refresh=0.1)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_dashboard(pilot, "gpu")
        rows_before = view.query_one("#gpu-table").row_count
        app.metrics.fail(True)
        await wait_until(pilot, lambda: view.error != "")
        status = str(view.query_one(".status").render())
        assert status.startswith("▲ STALE · last good at") and "connection refused" in status
        assert view.query_one("#gpu-table").row_count == rows_before  # last data kept
        app.metrics.fail(False)
        await wait_until(pilot, lambda: view.error == "", timeout=10)
        assert str(view.query_one(".status").render()).startswith("●")


async def test_polls_never_overlap_and_pause_while_hidden(make_app):
    app = await make_app(refresh=0.05)
    source = None
    async with app.run_test(size=SIZE) as pilot:
        source = app.metrics
        in_flight = 0
        peak = 0
        calls = 0
        original = source.snapshot

        async def slow_snapshot(*args, **kwargs):
            nonlocal in_flight, peak, calls
            in_flight += 1
            calls += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.2)  # slower than the refresh interval
            in_flight -= 1
            return await original(*args, **kwargs)

        source.snapshot = slow_snapshot
        view = await open_dashboard(pilot, "gpu")
        await pilot.pause(1.0)
        assert peak == 1 and calls >= 3
        await pilot.press("question_mark")  # a modal covers the dashboard
        await pilot.pause(0.3)
        covered = calls
        await pilot.pause(1.0)
        assert calls <= covered + 1  # at most the refresh already under way
        await pilot.press("escape")
        await wait_until(pilot, lambda: calls > covered + 1)
        assert view.refreshes > 0


async def test_node_describe_embeds_its_gpus(make_app):
    app = await make_app(start_view="no")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index("gpu-h100-1"))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        panel = app.screen.query_one(DashboardView)
        await wait_until(pilot, lambda: panel.refreshes > 0)
        nodes = {r.cells[0] for r in panel.query_one("#gpu-table").visible_rows()}
        assert nodes == {"gpu-h100-1"}


async def test_deployment_describe_embeds_its_models(make_app):
    app = await make_app(start_view="deploy", namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index("triton-bert"))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        panel = app.screen.query_one(DashboardView)
        await wait_until(pilot, lambda: panel.refreshes > 0)
        models = {r.cells[0] for r in panel.query_one("#model-table").visible_rows()}
        assert models == {"bert"}
