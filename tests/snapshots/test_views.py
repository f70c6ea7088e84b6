"""How the main views look (pytest-textual-snapshot), over the frozen demo backend.

Update after an intended change with ``pytest tests/snapshots --snapshot-update`` and look
at the report before committing.
"""

from __future__ import annotations

from tests.tui.conftest import snapshot_app

SIZE = (150, 40)


def test_pods_all_namespaces(snap_compare):
    assert snap_compare(snapshot_app(all_namespaces=True), terminal_size=SIZE)


def test_nodes_with_gpus(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), terminal_size=SIZE)


def test_deployments_filtered(snap_compare):
    assert snap_compare(snapshot_app(start_view="deploy", all_namespaces=True),
                        press=["slash", *"triton", "enter"], terminal_size=SIZE)


def test_help_on_nodes(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), press=["question_mark"],
                        terminal_size=SIZE)


def test_readonly_header_and_keys(snap_compare):
    assert snap_compare(snapshot_app(start_view="deploy", namespace="triton", readonly=True),
                        terminal_size=SIZE)


def test_describe_node(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), press=["d"], terminal_size=SIZE)


def _wait_for_refresh(kind: str):
    async def run_before(pilot) -> None:
        from mlops_tui.tui.views.dashboard_view import DashboardView

        await pilot.pause()  # the first view is mounted before the command is typed
        await pilot.press("colon", *kind, "enter")
        for _ in range(100):
            view = pilot.app.view
            if isinstance(view, DashboardView) and view.refreshes:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    return run_before


def test_gpu_dashboard(snap_compare):
    assert snap_compare(snapshot_app(), run_before=_wait_for_refresh("gpu"),
                        terminal_size=(170, 50))


def test_models_dashboard(snap_compare):
    assert snap_compare(snapshot_app(), run_before=_wait_for_refresh("models"),
                        terminal_size=(170, 50))


def test_invalid_filter_is_explained(snap_compare):
    # "[a=" is markup that does not parse and a regex that does not compile: the title
    # shows it as typed, and the line under the table says how it is matched
    assert snap_compare(snapshot_app(all_namespaces=True), press=["slash", *"[a=", "enter"],
                        terminal_size=SIZE)
