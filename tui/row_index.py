"""The resource table's index: rows by uid, in sort order, and the filtered subset.

Pure Python, no drawing, so it is tested alone. A watch event bisects into the ordered
lists (no resort); a filter keystroke is one predicate pass (no sort); flipping the sort
direction changes how positions count, not the lists.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, zip_longest
from math import inf, isnan
from operator import itemgetter

from mlops_tui.backends.models import Column, Row
from mlops_tui.tui.filtering import SCANS, FilterSpec, parse_filter

SortKey = str | tuple[float | str, str]
"""``tie`` alone (no sort column) or ``(value, tie)``, where ``tie`` is namespace, name and
uid joined by NUL: every key is unique, so a bisect finds exactly one row, and all keys of
one order have one shape, so Python's sort takes its fast same-type compare paths."""

_BULK_MIN = 512  # an incremental batch larger than this (and than n/16) rebuilds instead


def _tie(row: Row) -> str:
    return f"{row.namespace}\0{row.name}\0{row.uid}"


def _number(row: Row, column: int) -> float:
    """A numeric column's value: the row's sort key, else its text read as a number.

    Neither (``"<none>"``) or NaN gives +inf: such rows sort after every number, among
    themselves by namespace and name, and bisect never meets an unordered key.
    """
    keys = row.sort_keys
    if column < len(keys) and type(keys[column]) in (int, float):
        number = float(keys[column])
    else:
        try:
            number = float(row.cells[column]) if column < len(row.cells) else inf
        except ValueError:
            return inf
    return inf if isnan(number) else number


class RowIndex:
    """Rows by uid, kept in sort order, and the subset the filter lets through.

    Pure Python (no drawing): ``ResourceTable`` shows it; tests can drive it alone.
    Positions are in sort order; ``reverse`` flips how :meth:`row_at` and
    :meth:`position_of` count, not the lists, so toggling it costs nothing.
    """

    def __init__(self) -> None:
        self.columns: tuple[Column, ...] = ()
        self.sort_column: int | None = None
        self.reverse = False
        self.filter: FilterSpec = parse_filter("")
        self.widths: list[int] = []  # widest cell per column seen since the last rebuild
        self._match: Callable[[Row], bool] = self.filter.predicate()
        self._rows: dict[str, Row] = {}
        self._keys: dict[str, SortKey] = {}  # the key each row is stored under
        self._all_keys: list[SortKey] = []  # every row, ascending (parallel lists)
        self._all_rows: list[Row] = []
        self._all_scans: dict[str, list[str]] = {}  # SCANS[name](row), made on first use
        self._vis_keys: list[SortKey] = []  # the rows the filter lets through, same order
        self._vis_rows: list[Row] = []

    def __len__(self) -> int:
        """Rows that pass the filter."""
        return len(self._vis_rows)

    @property
    def row_count(self) -> int:
        """Every row held, filtered or not."""
        return len(self._rows)

    def get(self, uid: str) -> Row | None:
        return self._rows.get(uid)

    def row_at(self, position: int) -> Row:
        """The ``position``-th row that passes the filter, in screen order."""
        rows = self._vis_rows
        return rows[len(rows) - 1 - position] if self.reverse else rows[position]

    def position_of(self, uid: str | None) -> int | None:
        """Screen order position of a row that passes the filter, by bisecting its key."""
        key = self._keys.get(uid) if uid is not None else None
        if key is None:
            return None
        keys = self._vis_keys
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            return None
        return len(keys) - 1 - i if self.reverse else i

    def visible_rows(self) -> list[Row]:
        """The filtered rows in screen order (a copy: O(n))."""
        return self._vis_rows[::-1] if self.reverse else list(self._vis_rows)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Another kind: drops every row and the sort column."""
        self.columns = tuple(columns)
        self.sort_column, self.reverse = None, False
        self.reset(())

    def reset(self, rows: Iterable[Row]) -> None:
        self._rows = {row.uid: row for row in rows}
        self._rebuild()

    def update(self, upserts: Sequence[Row], deletes: Sequence[str]) -> None:
        """Upsert rows and drop uids: bisect into the order, no resort (a big batch rebuilds)."""
        if len(upserts) + len(deletes) > max(_BULK_MIN, len(self._rows) // 16):
            for row in upserts:
                self._rows[row.uid] = row
            for uid in deletes:
                self._rows.pop(uid, None)
            self._rebuild()
            return
        for uid in deletes:
            self._remove(uid)
        for row in upserts:
            self._remove(row.uid)
            self._insert(row)

    def set_filter(self, text: str) -> None:
        self.filter = parse_filter(text)
        self._match = self.filter.predicate()
        self._refilter()

    def set_sort(self, column: int | None, reverse: bool) -> None:
        self.reverse = reverse
        if column != self.sort_column:
            self.sort_column = column
            self._rebuild()

    def _key_function(self) -> Callable[[Row], SortKey]:
        """The sort key for the current sort column (see :data:`SortKey`)."""
        column = self.sort_column
        if column is None:
            return _tie
        if self.columns[column].age:  # ascending age is descending creation time
            return lambda row: (-_number(row, column), _tie(row))
        if self.columns[column].numeric:
            return lambda row: (_number(row, column), _tie(row))
        return lambda row: (row.cells[column].lower() if column < len(row.cells) else "", _tie(row))

    def _rebuild(self) -> None:
        """Recompute every key and the order: a reset, a bulk batch or a new sort column."""
        key_of = self._key_function()
        pairs = sorted(((key_of(row), row) for row in self._rows.values()), key=itemgetter(0))
        self._all_keys = [key for key, _ in pairs]
        self._all_rows = [row for _, row in pairs]
        self._keys = {row.uid: key for key, row in pairs}
        self._all_scans = {}
        self._measure()
        self._refilter()

    def _refilter(self) -> None:
        """One pass over the ordered rows (C-level, see ``FilterSpec.mask``); no sort."""
        if self.filter.matches_all:
            self._vis_keys = self._all_keys.copy()
            self._vis_rows = self._all_rows.copy()
            return
        scan = self.filter.scan
        texts = None
        if scan is not None:
            texts = self._all_scans.get(scan)
            if texts is None:
                texts = self._all_scans[scan] = list(map(SCANS[scan], self._all_rows))
        mask = list(self.filter.mask(self._all_rows, texts))
        self._vis_keys = list(compress(self._all_keys, mask))
        self._vis_rows = list(compress(self._all_rows, mask))

    def _measure(self) -> None:
        """Widest cell per column over all rows (one pass, at reset or rebuild only)."""
        count = len(self.columns)
        widths = [0] * count
        columns = zip_longest(*(row.cells[:count] for row in self._rows.values()), fillvalue="")
        for i, cells in enumerate(columns):
            widths[i] = max(map(len, cells), default=0)
        self.widths = widths

    def _remove(self, uid: str) -> None:
        key = self._keys.pop(uid, None)
        if key is None:
            return
        del self._rows[uid]
        i = bisect_left(self._all_keys, key)
        del self._all_keys[i], self._all_rows[i]
        for texts in self._all_scans.values():
            del texts[i]
        i = bisect_left(self._vis_keys, key)
        if i < len(self._vis_keys) and self._vis_keys[i] == key:
            del self._vis_keys[i], self._vis_rows[i]

    def _insert(self, row: Row) -> None:
        key = self._key_function()(row)
        self._rows[row.uid] = row
        self._keys[row.uid] = key
        i = bisect_left(self._all_keys, key)
        self._all_keys.insert(i, key)
        self._all_rows.insert(i, row)
        for scan, texts in self._all_scans.items():
            texts.insert(i, SCANS[scan](row))
        if self._match(row):
            i = bisect_left(self._vis_keys, key)
            self._vis_keys.insert(i, key)
            self._vis_rows.insert(i, row)
        widths = self.widths
        for i, cell in enumerate(row.cells[: len(widths)]):
            widths[i] = max(widths[i], len(cell))


