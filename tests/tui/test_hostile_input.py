"""Hostile text through the whole app: nothing a user types or a server sends is markup.

Every string here once crashed the app with Rich's ``MarkupError`` (or would have): typed
into the ``/`` filter or the ``:`` command line, or held by an object the demo cluster
serves (a name, a label, a container, an event message) and then shown in a view, a
title, a dialog, a describe or a log screen. A crash ends ``run_test`` with the exception.
"""

from __future__ import annotations

import pytest
from textual.widgets import Label, OptionList, Static

from mlops_tui.backends.demo import contents
from mlops_tui.backends.demo import objects as o
from mlops_tui.backends.demo.controllers import reconcile
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.dialogs import ChoiceScreen, ConfirmScreen, ScaleScreen
from mlops_tui.tui.screens.help import HelpScreen
from mlops_tui.tui.screens.logs import LogScreen
from mlops_tui.tui.views.resource_view import ResourceView
from mlops_tui.tui.widgets.flash import Flash
from tests.tui.conftest import NOW

SIZE = (150, 45)
# markup that does not parse, markup that would style or link, and plain brackets
HOSTILE = ["[/", "[a=", "[/]", "[b]bold[/b]", "[link=file:///etc/passwd]x", "[@click=app.quit]",
           "[red", "x[/red]", "[$accent]", "\\[", "]", "[[", "[not a tag]"]
# the app's own deployment whose names carry markup (a real API server would refuse such
# a name; the demo world is given one so every place that shows a name is exercised)
EVIL = "web-[/]-[b]"


async def type_keys(pilot, *texts: str) -> None:
    for text in texts:
        await pilot.press(*text)
    await pilot.pause()


def visible_text(widget) -> str:
    return str(widget.render())


@pytest.mark.parametrize("text", HOSTILE)
async def test_filter_takes_any_text(make_app, text):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await type_keys(pilot, text)
        view = app.view
        assert isinstance(view, ResourceView) and f"</{text}>" in view.title_text
        await pilot.press("enter")
        await pilot.pause()
        assert view.table.filter_text == text
        await pilot.press("escape")
        await pilot.pause()
        assert view.table.filter_text == ""


async def test_invalid_regex_and_selector_are_explained(make_app):
    app = await make_app(all_namespaces=True)
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        await pilot.press("slash", *"[a=", "enter")
        await pilot.pause()
        assert view.filter_problem.startswith("invalid regex:")
        assert "plain text" in view.filter_problem
        assert view.filter_problem in str(view._border_subtitle)  # drawn under the table
        await pilot.press("escape", "slash", *"-l app in (x", "enter")
        await pilot.pause()
        assert view.table.visible_count == 0
        assert view.filter_problem.startswith("invalid selector:")
        await pilot.press("escape")
        await pilot.pause()
        assert view.filter_problem == "" and view.border_subtitle is None


@pytest.mark.parametrize("command", [
    "po [/]", "po -n [/]", "po -n '[/]'", "[/]", "po [a=", "ns [/]", "po -l app in (x",
    "po -n 'a b/../../x?watch=1'", "deploy -l '[/]'", "ctx [/]",
])
async def test_command_line_takes_any_text(make_app, command):
    app = await make_app(namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        await type_keys(pilot, command)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        view = app.view
        # nothing was opened for it: a bad namespace never reaches the backend
        assert isinstance(view, ResourceView) and view.namespace == "triton"
        assert app.backend.info().namespace == "triton"
        assert app.query_one(Flash).text, "the error is shown on the flash line"


async def test_command_errors_say_why(make_app):
    app = await make_app(namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        flash = app.query_one(Flash)
        await pilot.press("colon", *"po -l app in (x", "enter")
        await pilot.pause()
        assert "invalid selector" in flash.text and app.view.namespace == "triton"
        await pilot.press("colon", *"po -n [/]", "enter")
        await pilot.pause()
        assert "invalid namespace '[/]'" in flash.text
        await pilot.press("colon", *"[/", "enter")
        await pilot.pause()
        assert flash.text == "unknown resource or command '[/'"


async def _with_evil_objects(make_app):
    """An app whose demo cluster holds a deployment, pods, containers, labels and events
    whose texts are all markup."""
    app = await make_app(namespace="default")
    world = app.backend.world
    with world.lock:
        dep = contents._app(world, NOW - 3600, "deployments", "default", EVIL, [
            o.container("[red]main", "registry/[/]:1"),
            o.container("side[/]", "registry/side:[b]")], replicas=2)
        dep["metadata"]["annotations"] = {"note": "[/] [link=x]y"}
        world.update("deployments", dep)
        pod = world.owned_by("pods", world.owned_by("replicasets", dep["metadata"]["uid"])[0][
            "metadata"]["uid"])[0]
        world.event(pod, "Warning", "Bad[/]", "message [/] with [b]markup[/b]",
                    component="[@click=app.quit]")
        reconcile(world)
    return app


async def test_objects_named_with_markup_in_every_screen(make_app):
    app = await _with_evil_objects(make_app)
    async with app.run_test(size=SIZE) as pilot:
        # the filter is a regex: "web-\\[" finds the name, "web-[/]" would be a class
        await pilot.press("colon", *"po", "enter", "slash", *"web-\\[", "enter")
        await pilot.pause()
        table = app.view.table
        assert table.visible_count == 2 and table.cursor_row.name.startswith(EVIL)
        name = table.cursor_row.name

        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert name in visible_text(app.screen.query_one("#detail-title", Static))
        await pilot.press("escape", "y")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")

        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        options = app.screen.query_one(OptionList)
        assert str(options.get_option_at_index(1).prompt) == "side[/]"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LogScreen)
        assert "[side[/]]" in visible_text(app.screen.query_one("#log-title", Static))
        await pilot.press("escape")

        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert name in visible_text(app.screen.query_one(Label))
        await pilot.press("n")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        for command in ("deploy", "rs", "cm", "ev"):
            await pilot.press("escape", "colon", *command, "enter")
            await pilot.pause()
            assert app.view.table.row_count
        await pilot.press("slash", *"markup", "enter")
        await pilot.pause()
        assert app.view.table.visible_count == 1  # the event whose message has markup
        assert "[b]markup[/b]" in app.view.table.cursor_row.search_text
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)


async def test_scale_dialog_bounds_what_it_sends(make_app):
    app = await make_app(start_view="deploy", namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        table = app.view.table
        table.move_cursor([r.name for r in table.visible_rows()].index("triton-resnet50"))
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ScaleScreen)
        field = dialog.query_one("#replicas")
        for typed, says in [("99999999999999999999999999", "at most 10,000"),
                            ("10001", "at most 10,000"), ("-1", "0 or more"),
                            ("9" * 5000, "at most 10,000"), ("", "type a number"),
                            ("1e3", "whole number")]:
            field.value = typed
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is dialog, typed
            assert says in dialog.problem, typed
        field.value = "3"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ScaleScreen)
        assert table.cursor_row.cells[2].endswith("/3")
