"""The flash line: one message at a time, errors in red, cleared after a few seconds."""

from __future__ import annotations

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static


class Flash(Static):
    DEFAULT_CSS = """
    Flash { height: 1; padding: 0 1; color: $text-muted; }
    Flash.-error { color: $error; text-style: bold; }
    Flash.-warn { color: $warning; }
    """

    _timer: Timer | None = None

    def show(self, message: str, level: str = "info", seconds: float = 6.0) -> None:
        """Show ``message`` (``level``: info, warn or error) for ``seconds``.

        The message is plain text: it often quotes what a user typed or a server sent
        (``unknown command '[/'``), which must never be read as markup.
        """
        self.update(Content(message))
        self.set_class(level == "error", "-error")
        self.set_class(level == "warn", "-warn")
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(seconds, self.clear)

    @property
    def text(self) -> str:
        """What the line says now (plain)."""
        return str(self.render())

    def clear(self) -> None:
        self.update("")
        self.remove_class("-error", "-warn")
