"""The GPU dashboard against the real Prometheus: an outage in the middle of a session."""

from __future__ import annotations

import time

from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.views.dashboard_view import DashboardView
from tests.tui.conftest import NOW, frozen_backend


async def test_prometheus_outage_goes_stale_and_recovers(prometheus_server, dcgm_exporter):
    backend = frozen_backend()
    await backend.connect()
    source = PrometheusSource(prometheus_server.url, MetricsSettings(rate_window="15s"))
    app = MlopsApp(backend, version="test", clock=lambda: NOW, metrics=source, refresh=0.3)
    async with app.run_test(size=(170, 50)) as pilot:
        await pilot.press("colon", *"gpu", "enter")
        for _ in range(100):
            if isinstance(app.view, DashboardView) and app.view.refreshes:
                break
            await pilot.pause(0.05)
        view = app.view
        assert view.query_one("#gpu-table").row_count == 4 and not view.error
        good = view.refreshes
        prometheus_server.stop(kill=True)
        try:
            deadline = time.monotonic() + 10
            while not view.error and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert view.refreshes == good or view.refreshes == good + 1  # within one refresh
            await pilot.pause()
            status = str(view.query_one(".status").render())
            assert status.startswith("▲ STALE · last good at") and "refused" in status
            assert view.query_one("#gpu-table").row_count == 4  # the last data stays
        finally:
            prometheus_server.start()
        deadline = time.monotonic() + 40  # backoff: at most 30 s between tries
        while view.error and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert not view.error and view.refreshes > good
        assert str(view.query_one(".status").render()).startswith("●")
    await source.close()
