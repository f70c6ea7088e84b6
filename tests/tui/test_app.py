"""The app driven with Pilot over the frozen demo backend: navigation, filter, actions."""

from __future__ import annotations

from textual.widgets import Log, TextArea

from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.dialogs import ConfirmScreen, ScaleScreen
from mlops_tui.tui.screens.help import HelpScreen
from mlops_tui.tui.screens.logs import LogScreen
from mlops_tui.tui.views.contexts_view import ContextsView
from mlops_tui.tui.views.resource_view import ResourceView
from mlops_tui.tui.widgets.cluster_header import ClusterHeader
from mlops_tui.tui.widgets.flash import Flash

SIZE = (150, 45)


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *list(text), "enter")
    await pilot.pause()


async def test_starts_on_pods_with_header(make_app):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.view
        assert isinstance(view, ResourceView) and view.kind.name == "pods"
        assert view.table.row_count == view.cache.state().count > 20
        header = app.query_one(ClusterHeader)
        assert header.info.context == "demo-gpu-cluster"
        assert "pods(all)" in view.border_title


async def test_command_mode_aliases_and_unknown(make_app):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        for alias, kind in [("no", "nodes"), ("deploy", "deployments"), ("svc", "services"),
                            ("ev", "events"), ("ns", "namespaces"), ("isvc", "inferenceservices"),
                            ("po", "pods")]:
            await type_command(pilot, alias)
            assert app.view.kind.name == kind, alias
        await type_command(pilot, "bogus")
        assert "unknown resource or command 'bogus'" in str(app.query_one(Flash).render())
        assert app.view.kind.name == "pods"  # a bad command changes nothing


async def test_command_completion_suggests_kinds(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", "d", "e", "p")
        await pilot.pause()
        bar = app.query_one("#command-bar")
        assert bar._suggestion.startswith("dep")  # inline suggestion, accepted with →
        await pilot.press("right", "enter")
        await pilot.pause()
        assert app.view.kind.name == "deployments"


async def test_command_with_namespace_and_back(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_command(pilot, "po kube-system")
        assert app.view.namespace == "kube-system"
        assert {r.namespace for r in app.view.table.visible_rows()} == {"kube-system"}
        await type_command(pilot, "no")
        await pilot.press("escape")
        await pilot.pause()
        assert app.view.kind.name == "pods" and app.view.namespace == "kube-system"
        await pilot.press("0")
        await pilot.pause()
        assert app.view.namespace == ""


async def test_filter_regex_inverse_labels(make_app):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        total = table.row_count
        await pilot.press("slash", *"triton")
        await pilot.pause()
        assert 0 < table.visible_count < total
        assert all("triton" in r.search_text for r in table.visible_rows())
        assert "</triton>" in app.view.border_title
        await pilot.press("enter")
        await pilot.press("escape")  # first esc clears the filter
        await pilot.pause()
        assert table.visible_count == total
        await pilot.press("slash", *"!Running", "enter")
        await pilot.pause()
        assert all("Running" not in r.cells for r in table.visible_rows())
        await pilot.press("escape", "slash", *"-l app=dcgm-exporter", "enter")
        await pilot.pause()
        assert table.visible_count == 3
        assert {r.labels.get("app") for r in table.visible_rows()} == {"dcgm-exporter"}


async def test_drill_down_from_nodes_and_deployments(make_app):
    app = await make_app(start_view="no", all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        names = [r.name for r in table.visible_rows()]
        table.move_cursor(names.index("gpu-h100-1"))
        await pilot.press("enter")
        await pilot.pause()
        assert app.view.kind.name == "pods"
        assert {r.cells[7] for r in app.view.table.visible_rows()} == {"gpu-h100-1"}
        await type_command(pilot, "deploy triton")
        rows = app.view.table.visible_rows()
        app.view.table.move_cursor([r.name for r in rows].index("triton-bert"))
        await pilot.press("enter")
        await pilot.pause()
        pods = app.view.table.visible_rows()
        assert pods and all(r.name.startswith("triton-bert-") for r in pods)


async def wait_for_text(pilot, area: TextArea) -> str:
    """The text once loaded (a detail screen shows "loading…" until its worker is done)."""
    for _ in range(40):
        if area.text != "loading…":
            return area.text
        await pilot.pause(0.05)
    raise AssertionError("the detail text never loaded")


async def test_describe_and_yaml_screens(make_app):
    app = await make_app(start_view="no")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index("gpu-h100-1"))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = await wait_for_text(pilot, app.screen.query_one(TextArea))
        lines = text.splitlines()
        assert lines[0].split() == ["Name:", "gpu-h100-1"]
        assert any(line.split()[:2] == ["nvidia.com/gpu:", "8"] for line in lines), text
        await pilot.press("escape", "y")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = await wait_for_text(pilot, app.screen.query_one(TextArea))
        assert text.startswith("apiVersion: v1\n") and "\n  name: gpu-h100-1\n" in text


async def test_delete_asks_first_and_removes_the_row(make_app):
    app = await make_app(namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        victim = table.cursor_row
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert table.get_row(victim.uid) is not None
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause(0.5)
        assert table.get_row(victim.uid) is None


async def test_scale_dialog(make_app):
    app = await make_app(start_view="deploy", namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index("triton-resnet50"))
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ScaleScreen)
        await pilot.press("ctrl+a", "backspace", *"backspace" * 0)
        inp = app.screen.query_one("Input")
        inp.value = "4"
        await pilot.press("enter")
        await pilot.pause(0.3)
        row = table.cursor_row
        assert row.name == "triton-resnet50" and row.cells[2].endswith("/4")


async def test_readonly_hides_and_refuses_mutations(make_app):
    app = await make_app(start_view="deploy", namespace="triton", readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        for action in ("delete", "kill", "scale", "restart"):
            assert view.check_action("act", (action,)) is False
        assert view.check_action("act", ("describe",)) is True
        await pilot.press("ctrl+d", "s")
        await pilot.pause()
        assert not isinstance(app.screen, (ConfirmScreen, ScaleScreen))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = [d for _, d in app.screen.view_keys]
        assert "Describe" in keys and "Delete" not in keys and "Scale" not in keys
        assert app.query_one(ClusterHeader).readonly


async def test_help_lists_only_keys_of_this_view(make_app):
    app = await make_app(start_view="no")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        keys = dict(app.screen.view_keys)
        assert keys.get("c") == "Cordon" and keys.get("r") == "Drain"
        assert "l" not in keys and "s" not in keys  # nodes have no logs, no scale


async def test_logs_screen_streams_lines(make_app):
    app = await make_app(namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index(
            next(r.name for r in table.visible_rows() if r.name.startswith("triton-resnet50"))))
        await pilot.press("l")
        for _ in range(20):
            await pilot.pause(0.05)
            if isinstance(app.screen, LogScreen) and app.screen.query_one(Log).line_count:
                break
        assert isinstance(app.screen, LogScreen)
        lines = app.screen.query_one(Log).lines
        assert len(lines) >= 200 and any("resnet50" in line for line in lines)


async def test_context_switch_from_ctx_view(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_command(pilot, "ctx")
        assert isinstance(app.view, ContextsView)
        rows = app.view.table.visible_rows()
        app.view.table.move_cursor([r.name for r in rows].index("demo-edge"))
        await pilot.press("enter")
        for _ in range(20):
            await pilot.pause(0.05)
            if app.query_one(ClusterHeader).info.context == "demo-edge":
                break
        assert app.query_one(ClusterHeader).info.context == "demo-edge"
        assert isinstance(app.view, ResourceView) and app.view.kind.name == "pods"


async def test_sort_keys(make_app):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        await pilot.press("N")
        await pilot.pause()
        names = [r.name for r in table.visible_rows()]
        assert names == sorted(names, key=str.lower)
        await pilot.press("N")
        await pilot.pause()
        assert [r.name for r in table.visible_rows()] == names[::-1]
