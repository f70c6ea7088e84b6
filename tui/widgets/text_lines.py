"""Styled plain-text lines in a scroll view that renders only the lines on screen.

A dry run's YAML and diff can be tens of thousands of lines: drawn as one ``Static`` it took
~3 s to show and ~0.8 s per page on this machine; through the Line API a page costs the
lines it shows. Lines are :class:`rich.text.Text` (never markup); control characters in
them are shown as ``\ufffd``, never sent to the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

# C0 and C1 control characters but tab, and DEL: a terminal would act on them
_CONTROL = {code: "\ufffd" for code in (*range(0, 9), *range(10, 32), *range(127, 160))}
MAX_WIDTH = 1000  # cells scrolled to the right at most; longer lines are cut


class TextLines(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    TextLines { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._lines: list[Text] = []

    def set_lines(self, lines: Iterable[Text]) -> None:
        """Show ``lines`` from the top."""
        self._lines = [clean(line) for line in lines]
        width = min(MAX_WIDTH, max((line.cell_len for line in self._lines), default=0))
        self.virtual_size = Size(width, len(self._lines))
        self.scroll_home(animate=False)
        self.refresh()

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def plain(self) -> str:
        """Every line's text, newline-joined (what a reader sees, without styles)."""
        return "\n".join(line.plain for line in self._lines)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        segments = [segment for segment in self._lines[index].render(self.app.console)
                    if segment.text != "\n"]
        strip = Strip(Segment.apply_style(segments, self.rich_style))
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width,
                                                                          self.rich_style)


def clean(line: Text) -> Text:
    """``line`` with control characters replaced (styles kept: same length)."""
    plain = line.plain
    cleaned = plain.translate(_CONTROL)
    if cleaned == plain:
        return line
    copy = line.copy()
    copy.plain = cleaned
    return copy
