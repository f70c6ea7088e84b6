"""The prompt at the bottom: ``:`` for commands (with completion), ``/`` for filters."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input


class CommandBar(Input):
    """Hidden until opened. Posts :class:`Entered`, :class:`FilterChanged`, :class:`Closed`.

    In filter mode every keystroke posts ``FilterChanged`` so the table filters as you type.
    """

    DEFAULT_CSS = """
    /* fixed dimensions: an auto-sized Input re-lays out the screen on every keystroke */
    CommandBar { dock: bottom; display: none; height: 3; width: 1fr;
        border: round $accent; }
    """
    BINDINGS = [Binding("escape", "close", "Cancel", show=False)]

    class Entered(Message):
        """Enter was pressed: ``text`` in ``mode`` ("command" or "filter")."""

        def __init__(self, mode: str, text: str) -> None:
            super().__init__()
            self.mode, self.text = mode, text

    class FilterChanged(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

    mode = "command"
    _completions: SuggestFromList | None = None

    def set_completions(self, words: Iterable[str]) -> None:
        self._completions = SuggestFromList(sorted(set(words)), case_sensitive=False)

    def open(self, mode: str, text: str = "") -> None:
        self.mode = mode
        self.suggester = self._completions if mode == "command" else None
        self.border_title = "filter (regex, !inverse, -l key=value)" if mode == "filter" else (
            "command (kind, alias, ctx, ns NAME, q)")
        self.value = text
        self.display = True
        # An inline style applies at once (a class waits for the next CSS pass, and a
        # hidden widget refuses focus); then focus now, not on the next loop turn: keys
        # typed right after ':' (":po⏎" in one burst, as k9s users do) must land here.
        self.screen.set_focus(self)
        self.cursor_position = len(text)

    @property
    def is_open(self) -> bool:
        return self.display

    def close(self) -> None:
        self.display = False

    def action_close(self) -> None:
        self.close()
        self.post_message(self.Closed(self.mode))

    def _watch_value(self, value: str) -> None:
        # Input sets virtual_size (a layout reactive) on every change, and the screen's
        # layout pass sets it back: a full re-layout per keystroke. Pre-set it quietly so
        # Input's assignment is a no-op; the bar's size never depends on its text.
        self.set_reactive(Widget.virtual_size, Size(self.content_width, 1))
        super()._watch_value(value)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.mode == "filter" and self.is_open:
            self.post_message(self.FilterChanged(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(self.Entered(self.mode, event.value.strip()))
