"""The TUI's fixture: the demo backend, frozen at a fixed instant so screens are stable.

The apps made here show times in UTC (``app.tz``), so a screen under the frozen clock looks
the same whatever ``TZ`` the tests run under.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC

import pytest

from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.app import MlopsApp

NOW = 1_795_305_600.0  # 2026-11-22T00:00:00Z


def frozen_backend(**settings) -> DemoBackend:
    return DemoBackend(BackendSettings(**settings), seed=7, now=lambda: NOW, frozen=True)


@pytest.fixture
def make_app() -> Callable[..., Awaitable[MlopsApp]]:
    """An app over a connected, frozen demo backend."""

    async def make(start_view: str = "pods", refresh: float = 2.0, **settings) -> MlopsApp:
        backend = frozen_backend(**settings)
        await backend.connect()
        metrics = await frozen_metrics(backend)
        return in_utc(MlopsApp(backend, start_view=start_view, version="test",
                               clock=lambda: NOW, metrics=metrics, refresh=refresh))

    return make


def snapshot_app(start_view: str = "pods", **settings) -> MlopsApp:
    """For snap_compare, which runs the app in its own loop: connect synchronously."""
    import asyncio

    backend = frozen_backend(**settings)
    asyncio.run(backend.connect())
    metrics = asyncio.run(frozen_metrics(backend))
    return in_utc(MlopsApp(backend, start_view=start_view, version="test", clock=lambda: NOW,
                           metrics=metrics, refresh=3600))


def in_utc(app: MlopsApp) -> MlopsApp:
    """Make ``app`` show wall-clock times in UTC (see :mod:`mlops_tui.tui.timefmt`)."""
    app.tz = UTC
    return app


async def frozen_metrics(backend: DemoBackend):
    from mlops_tui.backends.demo.metrics import DemoMetricsSource

    return DemoMetricsSource(seed=7, now=lambda: NOW, frozen=True, world=lambda: backend.world)
