"""Live logs of one container: a ring buffer (``--log-lines``) fed by a streaming worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from mlops_tui.backends.errors import BackendError


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen > Static#log-title { height: 1; background: $accent; color: $text;
        padding: 0 1; text-style: bold; }
    LogScreen > Log { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("s", "toggle_autoscroll", "Autoscroll"),
        Binding("c", "clear", "Clear"),
    ]

    def __init__(self, title: str, open_stream: Callable[[], AsyncIterator[str]],
                 max_lines: int) -> None:
        super().__init__()
        self.title_text = title
        self._open_stream = open_stream
        self._max_lines = max_lines

    def compose(self) -> ComposeResult:
        # plain text: the title names a pod and a container; Log lines are plain already
        yield Static(Content(self.title_text), id="log-title")
        yield Log(max_lines=self._max_lines, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.follow()

    @work(exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        log = self.query_one(Log)
        try:
            async for line in self._open_stream():
                log.write_line(line)
        except BackendError as exc:
            log.write_line(f"--- {exc}")
            self.notify(str(exc), severity="error", markup=False)
        else:
            log.write_line("--- end of log")

    def action_toggle_autoscroll(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        self.notify(f"autoscroll {'on' if log.auto_scroll else 'off'}")

    def action_clear(self) -> None:
        self.query_one(Log).clear()
