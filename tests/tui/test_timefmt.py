"""Wall-clock times: the local zone by default (as k9s), the app's ``tz`` when it has one,
so a screen under a frozen clock reads the same whatever ``TZ`` the process runs under."""

from __future__ import annotations

import time
from datetime import UTC, timedelta, timezone

import pytest

from mlops_tui.tui.timefmt import clock_text
from tests.tui.conftest import NOW
from tests.tui.test_dashboards import SIZE, open_dashboard

KOLKATA = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture
def local_zone(monkeypatch):
    """Set the process's local zone (``TZ``) for one test, and put it back after."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_clock_text_in_a_given_zone_or_the_local_one(local_zone):
    assert clock_text(NOW, UTC) == "00:00:00"
    assert clock_text(NOW, KOLKATA) == "05:30:00"
    local_zone("Asia/Kolkata")
    assert clock_text(NOW) == "05:30:00"  # no zone given: local, as k9s shows
    local_zone("America/Los_Angeles")
    assert clock_text(NOW) == "16:00:00"
    assert clock_text(NOW, UTC) == "00:00:00"


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
async def test_panel_times_follow_the_app_zone_not_tz(make_app, local_zone, zone):
    local_zone(zone)
    app = await make_app()  # tests' apps show UTC
    async with app.run_test(size=SIZE) as pilot:
        view = await open_dashboard(pilot, "gpu")
        status = str(view.query_one(".status").render())
        assert "updated 00:00:00" in status, status
