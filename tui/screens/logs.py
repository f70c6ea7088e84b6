"""Live logs of one container: a ring buffer (``--log-lines``) fed by a streaming worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from rich.cells import cell_len
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from mlops_tui.backends.errors import BackendError


class PlainLog(Log):
    """Textual's Log, measuring new lines inline.

    Log measures every write in a thread worker that calls back into the app; when the
    screen closes while one is still queued, that call finds no app and fails the worker
    (a crash found by the random-key test). Lines arrive a few at a time here, so measuring
    them on the spot costs nothing.
    """

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        if lines:
            width = max(cell_len(self._process_line(line)) for line in lines)
            self._update_maximum_width(updates, width)


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen > Static#log-title { height: 1; background: $accent; color: $text;
        padding: 0 1; text-style: bold; }
    LogScreen > Log { height: 1fr; }
    """
    AUTO_FOCUS = "PlainLog"  # by selector: a quick escape may close it before on_mount
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
        # held, not queried: keys may reach the screen before its children are mounted
        self._log = PlainLog(max_lines=max_lines, auto_scroll=True)

    def compose(self) -> ComposeResult:
        # plain text: the title names a pod and a container; Log lines are plain already
        yield Static(Content(self.title_text), id="log-title")
        yield self._log
        yield Footer()

    def on_mount(self) -> None:
        self.follow()

    @work(exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        log = self._log
        try:
            async for line in self._open_stream():
                log.write_line(line)
        except BackendError as exc:
            log.write_line(f"--- {exc}")
            self.notify(str(exc), severity="error", markup=False)
        else:
            log.write_line("--- end of log")

    def action_toggle_autoscroll(self) -> None:
        log = self._log
        log.auto_scroll = not log.auto_scroll
        self.notify(f"autoscroll {'on' if log.auto_scroll else 'off'}")

    def action_clear(self) -> None:
        self._log.clear()
