"""The GPU dashboard against the real Prometheus: an outage in the middle of a session; a
rejected query, a server that is not Prometheus and a bad URL shown as errors."""

from __future__ import annotations

import time

from mlops_tui.backends.metrics_models import Screen
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource
from mlops_tui.backends.prometheus.queries import SCREENS, Query
from mlops_tui.backends.registry import create_metrics
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.views.dashboard_view import DashboardView
from tests.servers.canned import CannedServer
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


async def wait_for_status(pilot, view: DashboardView, predicate, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(view.query_one(".status").render())
        if predicate(status):
            return status
        await pilot.pause(0.05)
    raise AssertionError(f"status never matched: {status!r}")


async def open_gpu(app, pilot) -> DashboardView:
    await pilot.press("colon", *"gpu", "enter")
    for _ in range(100):
        if isinstance(app.view, DashboardView):
            return app.view
        await pilot.pause(0.05)
    raise AssertionError("the GPU dashboard did not open")


async def test_a_rejected_query_is_red_on_the_panel_beside_the_data(
        prometheus_server, dcgm_exporter, monkeypatch):
    broken = Query("gpu_broken", "rate(DCGM_FI_DEV_GPU_UTIL{sel}[{r}]", "a typo: no ')'")
    monkeypatch.setitem(SCREENS, Screen.GPU, (*SCREENS[Screen.GPU], broken))
    backend = frozen_backend()
    await backend.connect()
    source = PrometheusSource(prometheus_server.url, MetricsSettings(rate_window="15s"))
    app = MlopsApp(backend, version="test", clock=lambda: NOW, metrics=source, refresh=0.3)
    async with app.run_test(size=(170, 50)) as pilot:
        view = await open_gpu(app, pilot)
        status = await wait_for_status(pilot, view, lambda s: view.refreshes > 0)
        assert status.startswith("✖ 1 of 11 queries failed: gpu_broken: Prometheus rejected "
                                 "the query: ")
        assert "no DCGM" not in status and view.query_one(".status").has_class("-error")
        assert view.query_one("#gpu-table").row_count == 4  # what did answer is shown
    await source.close()


async def test_a_web_page_instead_of_prometheus_is_an_error_not_an_empty_panel():
    backend = frozen_backend()
    await backend.connect()
    with CannedServer(200, "<html><body>Welcome to nginx!</body></html>", "text/html") as page:
        source = PrometheusSource(page.url, MetricsSettings())
        app = MlopsApp(backend, version="test", clock=lambda: NOW, metrics=source,
                       refresh=0.3)
        async with app.run_test(size=(170, 50)) as pilot:
            view = await open_gpu(app, pilot)
            status = await wait_for_status(pilot, view, lambda s: s.startswith("✖"))
            assert status.startswith(f"✖ ERROR · {page.url} answered with text/html, not "
                                     "Prometheus's JSON (is it a Prometheus server?)")
            assert view.query_one(".status").has_class("-error")
            assert "no series" not in status and view.query_one("#gpu-table").row_count == 0
        await source.close()


async def test_a_bad_url_is_shown_on_the_panel_as_given_never_as_markup():
    backend = frozen_backend()
    await backend.connect()

    async def make_source():  # what the CLI does on the first panel
        return await create_metrics("prometheus", MetricsSettings(url="not-a-url[/]"),
                                    backend)

    app = MlopsApp(backend, version="test", clock=lambda: NOW, metrics_factory=make_source,
                   refresh=0.3)
    async with app.run_test(size=(170, 50)) as pilot:
        view = await open_gpu(app, pilot)
        status = await wait_for_status(pilot, view, lambda s: s.startswith("✖"))
        assert status.startswith("✖ ERROR · invalid Prometheus URL 'not-a-url[/]': expected "
                                 "http(s)://host[:port][/path]")
