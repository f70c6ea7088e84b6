"""A k9s-style resource table that stays fast at tens of thousands of rows.

Textual's ``DataTable`` keeps a renderable per cell and re-measures on every change; at
25,000 rows that costs seconds. Here the rows live in a :class:`RowIndex` (pure Python:
every row by uid, all of them in sort order, and the filtered subset, as parallel lists)
and :class:`ResourceTable` draws through the Line API, so a paint costs O(rows on screen).

A watch event bisects into the ordered lists (no resort) and repaints only the lines whose
row changed; a filter keystroke is one C-level pass over the ordered rows (no sort);
flipping the sort direction is O(1), since it only changes how a screen line maps to a
list position. Column widths come from a running maximum per column kept as rows arrive,
never from a scan at paint time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlops_tui.backends.models import CacheChanges, Column, Row, format_age
from mlops_tui.tui.row_index import RowIndex

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fit(text: str, width: int) -> str:
    """Pad or truncate ``text`` to exactly ``width`` cells, marking a cut with "…"."""
    length = cell_len(text)
    if length == width:
        return text
    if length < width:
        return text + " " * (width - length)
    return set_cell_size(text, width - 1) + "…" if width > 0 else ""



class ResourceTable(ScrollView, can_focus=True):
    """Rows of one resource kind: sorted, filtered, coloured by status, drawn line by line.

    Feed it with :meth:`set_columns` then :meth:`apply` (a cache's ``CacheChanges``); narrow
    it with :meth:`set_filter`; order it with :meth:`sort_by`. It posts
    :class:`CursorMoved` when the row under the cursor changes and :class:`RowActivated`
    on Enter.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--error",
        "resource-table--warn",
    }

    DEFAULT_CSS = """
    ResourceTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .resource-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .resource-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .resource-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .resource-table--error { color: $error; }
        & > .resource-table--warn { color: $warning; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_home", "Top", show=False),
        Binding("end,G", "cursor_end", "Bottom", show=False),
        Binding("enter", "activate", "Select", show=False),
    ]

    MAX_AUTO_WIDTH: ClassVar[int] = 48
    """Cap for a column sized to its content (``Column.width == 0``)."""
    COLUMN_GAP: ClassVar[int] = 2
    """Blank cells between two columns."""

    wide: reactive[bool] = reactive(False)
    """Show the ``wide_only`` columns too (k9s ``-o wide``)."""

    class CursorMoved(Message):
        """The row under the cursor changed (another uid, or ``None`` when none is left)."""

        def __init__(self, table: ResourceTable, row: Row | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> ResourceTable:
            return self.table

        def can_replace(self, message: Message) -> bool:
            # Holding "j" queues many moves: only the newest one matters.
            return isinstance(message, ResourceTable.CursorMoved) and message.table is self.table

    class RowActivated(Message):
        """Enter was pressed on ``row``."""

        def __init__(self, table: ResourceTable, row: Row) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> ResourceTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        #: what "now" is when age columns are painted; tests freeze it
        self.clock: Callable[[], float] = time.time
        self._age_columns: frozenset[int] = frozenset()
        self._index = RowIndex()
        self._index.set_columns(columns)
        self._layout: list[tuple[int, int]] | None = None  # (column index, width) shown
        self._layout_widths: list[int] = []  # the index's widths the layout was made from
        self._header: str = ""
        self._cursor = 0
        self._cursor_uid: str | None = None
        self._line_styles: dict[str, Style] = {}  # set by render_lines, once per paint

    # ------------------------------------------------------------------ read-only state

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._index.columns

    @property
    def cursor_row(self) -> Row | None:
        """The row under the cursor, ``None`` when no row is visible."""
        return self._index.row_at(self._cursor) if len(self._index) else None

    @property
    def cursor_index(self) -> int:
        """Screen order index of the cursor among the visible rows."""
        return self._cursor

    @property
    def row_count(self) -> int:
        """Every row held, filtered or not."""
        return self._index.row_count

    @property
    def visible_count(self) -> int:
        """Rows that pass the filter."""
        return len(self._index)

    @property
    def filter_text(self) -> str:
        return self._index.filter.text

    @property
    def filter_error(self) -> str:
        """Why the filter was not taken as typed ("" when it was), for a prompt to show."""
        return self._index.filter.error

    @property
    def sort_column(self) -> int | None:
        """Index into ``columns`` of the sort column; ``None``: by namespace, name."""
        return self._index.sort_column

    @property
    def sort_reverse(self) -> bool:
        return self._index.reverse

    def get_row(self, uid: str) -> Row | None:
        return self._index.get(uid)

    def visible_rows(self) -> list[Row]:
        """The filtered rows in screen order (a copy: O(n), not for per-frame use)."""
        return self._index.visible_rows()

    # ------------------------------------------------------------------ feeding

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show another set of columns; drops every row and the sort column."""
        self._index.set_columns(columns)
        self._age_columns = frozenset(i for i, c in enumerate(columns) if c.age)
        self._layout = None
        self._changed(None, 0, scroll=False)
        if self.is_mounted:
            self.scroll_to(0, 0, animate=False, force=True)

    def apply(self, changes: CacheChanges) -> None:
        """Take a cache's changes: a reset replaces every row, else upsert/delete by uid.

        The row at the top of the screen stays there, and only lines whose row changed are
        repainted: most watch events touch rows off screen and then cost no paint at all.
        """
        uid, index, in_view = self._cursor_uid, self._cursor, self._cursor_in_view()
        shown = None if changes.reset else self._shown_rows()
        if changes.reset:
            self._index.reset(changes.upserts)
        else:
            self._index.update(changes.upserts, changes.deletes)
        self._changed(uid, index, scroll=in_view, shown=shown)

    def set_filter(self, text: str) -> None:
        """Narrow the rows with a k9s filter (see :mod:`tui.filtering`)."""
        if text == self._index.filter.text:
            return
        uid, index = self._cursor_uid, self._cursor
        self._index.set_filter(text)
        self._changed(uid, index)

    def sort_by(self, column_index: int, reverse: bool | None = None) -> None:
        """Sort by a column; ``reverse=None`` toggles on the same column, else ascending."""
        if not 0 <= column_index < len(self.columns):
            raise IndexError(f"no column {column_index} (have {len(self.columns)})")
        if reverse is None:
            reverse = column_index == self.sort_column and not self.sort_reverse
        uid, index = self._cursor_uid, self._cursor
        self._index.set_sort(column_index, reverse)
        self._header = ""
        self._changed(uid, index)

    def move_cursor(self, index: int, *, scroll: bool = True) -> None:
        """Put the cursor on the ``index``-th visible row (clamped)."""
        old = self._cursor
        self._cursor = max(0, min(index, len(self._index) - 1))
        if self._cursor != old:
            self.refresh_line(old + 1)
            self.refresh_line(self._cursor + 1)
        if scroll:
            self._scroll_to_cursor()
        self._post_if_moved()

    # ------------------------------------------------------------------ cursor

    def _changed(
        self,
        anchor_uid: str | None,
        anchor_index: int,
        *,
        scroll: bool = True,
        shown: list[Row] | None = None,
    ) -> None:
        """After any change: keep the cursor on its uid (else its index), resize, repaint.

        ``shown``: the rows on screen before the change; when given, only the lines whose
        row (or cursor) differs are repainted, unless the columns or the number of lines
        changed. Without it, every line is.
        """
        old_cursor, old_top = self._cursor, round(self.scroll_y)
        index = self._index.position_of(anchor_uid)
        if index is None:
            index = anchor_index
        self._cursor = max(0, min(index, len(self._index) - 1))
        if self._index.widths != self._layout_widths:
            self._layout = None
        relayout = self._layout is None
        self._update_virtual_size()
        if shown:  # keep the row that was at the top there: the screen does not jump
            anchor = self._index.position_of(shown[0].uid)
            if anchor is not None and anchor != old_top:
                self._scroll_quietly(anchor)
        if scroll:
            self._scroll_to_cursor()
        top = round(self.scroll_y)
        now = self._shown_rows() if shown is not None else None
        if now is None or relayout or len(now) != len(shown):
            self.refresh()
        else:  # a real scroll above repainted everything already; else only what differs
            old_line, new_line = old_cursor - old_top, self._cursor - top
            for line, (before, after) in enumerate(zip(shown, now, strict=False)):
                if before is not after or (line == old_line) != (line == new_line):
                    self.refresh_line(top + line + 1)
        self._post_if_moved()

    def _scroll_quietly(self, y: int) -> None:
        """Move the view without the full repaint a scroll asks for: for when the rows on
        screen stay the same rows (the caller repaints the lines that differ)."""
        y = max(0, min(y, self.max_scroll_y))
        self.set_reactive(ScrollView.scroll_y, float(y))
        self.set_reactive(ScrollView.scroll_target_y, float(y))
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = y

    def _shown_rows(self) -> list[Row]:
        """The rows on screen now, top to bottom: O(screen height)."""
        top = round(self.scroll_y)
        end = min(len(self._index), top + self._page_height())
        return [self._index.row_at(index) for index in range(top, end)]

    def _post_if_moved(self) -> None:
        row = self.cursor_row
        uid = row.uid if row is not None else None
        if uid != self._cursor_uid:
            self._cursor_uid = uid
            self.post_message(self.CursorMoved(self, row))

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # minus the header

    def _cursor_in_view(self) -> bool:
        top = round(self.scroll_y)
        return top <= self._cursor < top + self._page_height()

    def _scroll_to_cursor(self) -> None:
        top, page = round(self.scroll_y), self._page_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._page(-self._page_height())

    def action_page_down(self) -> None:
        self._page(self._page_height())

    def _page(self, delta: int) -> None:
        """Move cursor and view together, so the cursor keeps its place on screen."""
        self.scroll_to(y=round(self.scroll_y) + delta, animate=False, force=True)
        self.move_cursor(self._cursor + delta)

    def action_cursor_home(self) -> None:
        self.move_cursor(0)

    def action_cursor_end(self) -> None:
        self.move_cursor(len(self._index) - 1)

    def action_activate(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowActivated(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x + round(self.scroll_x))
            if column is not None:
                self.sort_by(column)
            return
        index = round(self.scroll_y) + offset.y - 1
        if index < len(self._index):
            self.move_cursor(index)
            if event.chain == 2:
                self.action_activate()

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    # ------------------------------------------------------------------ drawing

    def watch_wide(self) -> None:
        self._layout = None
        self._update_virtual_size()
        self.refresh()

    def _get_layout(self) -> list[tuple[int, int]]:
        """(column index, width) of each shown column; O(columns), cached until a change."""
        if self._layout is None:
            layout = []
            widths = self._index.widths
            for i, column in enumerate(self.columns):
                if column.wide_only and not self.wide:
                    continue
                width = column.width or min(
                    self.MAX_AUTO_WIDTH, max(cell_len(column.name) + 1, widths[i])
                )
                layout.append((i, width))
            self._layout = layout
            self._layout_widths = widths.copy()
            self._header = ""
        return self._layout

    def _column_at(self, x: int) -> int | None:
        for index, width in self._get_layout():
            if x < width + self.COLUMN_GAP:
                return index
            x -= width + self.COLUMN_GAP
        return None

    def _update_virtual_size(self) -> None:
        layout = self._get_layout()
        width = sum(w for _, w in layout) + self.COLUMN_GAP * max(0, len(layout) - 1)
        size = Size(width, len(self._index) + 1)
        if size == self.virtual_size:
            return
        if not self.is_mounted:
            self.virtual_size = size
            return
        # ``virtual_size`` is a layout reactive: each change would re-lay out the whole
        # screen and paint it twice, on every filter keystroke. Only a scrollbar that
        # appears or goes changes the layout, so set it quietly and ask for that alone.
        scrollbars = (self.show_vertical_scrollbar, self.show_horizontal_scrollbar)
        self.set_reactive(ScrollView.virtual_size, size)
        self._scroll_update(size)
        if (self.show_vertical_scrollbar, self.show_horizontal_scrollbar) != scrollbars:
            self.refresh(layout=True)

    def _header_text(self) -> str:
        if not self._header:
            marks = {self.sort_column: "↓" if self.sort_reverse else "↑"}
            gap = " " * self.COLUMN_GAP
            self._header = gap.join(
                _fit(self.columns[i].name + marks.get(i, ""), width)
                for i, width in self._get_layout()
            )
        return self._header

    def _cell(self, row: Row, i: int) -> str:
        """A cell's text; an age column is painted from the row's creation time."""
        if i in self._age_columns and i < len(row.sort_keys):
            created = row.sort_keys[i]
            if isinstance(created, (int, float)) and created > 0:
                return format_age(self.clock() - created)
        return row.cells[i] if i < len(row.cells) else ""

    def _row_text(self, row: Row) -> str:
        text = (" " * self.COLUMN_GAP).join(
            _fit(self._cell(row, i), width) for i, width in self._get_layout()
        )
        # A newline or escape in a cell (an event message, say) would break the line.
        return text if text.isprintable() else _CONTROL.sub("\ufffd", text)

    def _resolve_styles(self) -> dict[str, Style]:
        """Line styles by name ("", "header", "error", "warn", "cursor", "error-cursor"...)."""
        base = self.rich_style
        styles = {"": base}
        for name in ("header", "error", "warn", "cursor"):
            styles[name] = base + self._component_style(name)
        for name in ("error", "warn"):
            styles[f"{name}-cursor"] = styles[name] + styles["cursor"]
        self._line_styles = styles
        return styles

    def _component_style(self, name: str) -> Style:
        try:
            return self.get_component_rich_style(f"resource-table--{name}")
        except KeyError:
            # A paint queued just before the table left the DOM (a view replaced by the
            # next command) arrives after Textual dropped its component styles: draw it
            # plain, it is not on screen any more (the random-key test found this crash).
            return Style()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._resolve_styles()  # once per paint: ``rich_style`` walks the DOM on each call
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        styles = self._line_styles or self._resolve_styles()
        if y == 0:
            text, style = self._header_text(), styles["header"]
        else:
            index = scroll_y + y - 1
            if index >= len(self._index):
                return Strip.blank(width, styles[""])
            row = self._index.row_at(index)
            text = self._row_text(row)
            name = row.status if row.status in ("error", "warn") else ""
            if index == self._cursor:
                name = f"{name}-cursor" if name else "cursor"
            style = styles[name]
        if text.isascii():  # one cell per character: slice, one Strip, no re-crop
            text = text[scroll_x : scroll_x + width]
            return Strip([Segment(text.ljust(width), style)], width)
        strip = Strip([Segment(text, style)], cell_len(text))
        return strip.crop_extend(scroll_x, scroll_x + width, style)
