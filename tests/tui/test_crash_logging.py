"""A bug inside the TUI (an exception that is not a BackendError) is logged with its
traceback, credentials scrubbed, and told in a notification; the app keeps running.

The failing describe is a stand-in: no real backend raises a RuntimeError on demand, and
that is the edge case under test (a bug, not a server's answer)."""

from __future__ import annotations

import logging

from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.views.resource_view import ResourceView

SIZE = (120, 40)


async def test_a_bug_in_a_worker_is_logged_scrubbed_and_flashed(make_app, caplog):
    app = await make_app("deploy")

    async def broken_describe(ref):
        raise RuntimeError("describe blew up; Authorization: Bearer abc.def.ghi token=s3cr3t")

    app.backend.describe = broken_describe
    caplog.set_level(logging.ERROR, logger="mlops_tui")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        for _ in range(20):
            await pilot.pause(0.05)
            if app._notifications:
                break
        assert isinstance(app.screen, DetailScreen)
        shown = [str(n.message) for n in app._notifications]
        assert any("internal error (RuntimeError)" in text for text in shown), shown
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "RuntimeError: describe blew up" in logged and "Traceback" in logged
        assert "s3cr3t" not in logged and "abc.def.ghi" not in logged
        await pilot.press("escape")
        await pilot.press("colon", *"po", "enter")
        await pilot.pause()
        assert isinstance(app.view, ResourceView) and app.view.kind.name == "pods"
