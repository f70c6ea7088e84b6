"""Describe and YAML: read-only text loaded in a worker, scrollable, searchable by eye."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TextArea
from textual.worker import Worker

from mlops_tui.backends.errors import BackendError
from mlops_tui.tui.crash import report_failed_worker


class DetailScreen(Screen[None]):
    DEFAULT_CSS = """
    DetailScreen > Static#detail-title { height: 1; background: $accent; color: $text;
        padding: 0 1; text-style: bold; }
    DetailScreen > TextArea { height: 1fr; border: none; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("w", "toggle_wrap", "Wrap"),
    ]

    def __init__(self, title: str, load: Callable[[], Awaitable[str]],
                 panel: Widget | None = None) -> None:
        super().__init__()
        self.title_text = title
        self._load = load
        self._panel = panel  # live metrics under the text (a node's GPUs, a model's)
        # held, not queried: keys may reach the screen before its children are mounted
        self._area = TextArea("loading…", read_only=True, show_line_numbers=False,
                              soft_wrap=False, id="detail-text")

    def compose(self) -> ComposeResult:
        # plain text: the title names an object, the error quotes a server
        yield Static(Content(self.title_text), id="detail-title")
        yield self._area
        if self._panel is not None:
            yield self._panel
        yield Footer()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    def on_mount(self) -> None:
        self.fetch()

    @work(exclusive=True, exit_on_error=False)
    async def fetch(self) -> None:
        area = self._area
        try:
            area.load_text(await self._load())
        except BackendError as exc:
            area.load_text(f"error: {exc}")
            self.notify(str(exc), severity="error", markup=False)
        area.focus()

    def action_toggle_wrap(self) -> None:
        area = self._area
        area.soft_wrap = not area.soft_wrap
