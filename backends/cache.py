"""A versioned, thread-safe row store: the in-memory half of every row cache.

Writers (a watch thread, a simulator) call :meth:`RowStore.upsert` / :meth:`delete` /
:meth:`replace`; readers (the UI) call :meth:`changes_since` with the version they last saw
and get only what changed. The change log is bounded: a reader that falls too far behind
gets a reset (the whole set) instead, so memory never grows with event volume.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from mlops_tui.backends.models import CacheChanges, CacheState, Column, KindInfo, Row


class RowStore:
    """Rows of one kind in one namespace ("" = all), keyed by uid."""

    def __init__(self, kind: KindInfo, namespace: str, columns: tuple[Column, ...],
                 log_limit: int = 50_000) -> None:
        self.kind = kind
        self.namespace = namespace
        self.columns = columns
        self._rows: dict[str, Row] = {}
        # uid -> version of its last change, oldest first; a uid moves to the end on change
        self._changed: OrderedDict[str, int] = OrderedDict()
        self._version = 0
        self._reset_version = 0  # readers older than this must take a reset
        self._log_limit = log_limit
        self._lock = threading.Lock()
        self._synced = False
        self._error = ""
        self._progress = 0  # rows received by a list still under way

    # -- writers --------------------------------------------------------------------------
    def _touch(self, uid: str) -> None:
        self._version += 1
        self._changed[uid] = self._version
        self._changed.move_to_end(uid)
        if len(self._changed) > self._log_limit:
            _, dropped_version = self._changed.popitem(last=False)
            self._reset_version = max(self._reset_version, dropped_version)

    def upsert(self, row: Row) -> None:
        with self._lock:
            self._rows[row.uid] = row
            self._touch(row.uid)

    def delete(self, uid: str) -> None:
        with self._lock:
            if self._rows.pop(uid, None) is not None:
                self._touch(uid)

    def replace(self, rows: Iterable[Row]) -> None:
        """Swap in a complete set (after a relist): readers get a reset."""
        new = {row.uid: row for row in rows}
        with self._lock:
            self._rows = new
            self._changed.clear()
            self._version += 1
            self._reset_version = self._version
            self._synced = True
            self._error = ""

    def set_progress(self, count: int) -> None:
        """How many rows a first list has brought so far (shown while not synced)."""
        self._progress = count

    def set_error(self, message: str) -> None:
        with self._lock:
            self._error = message

    def clear_error(self) -> None:
        with self._lock:
            self._error = ""

    # -- readers --------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def changes_since(self, version: int) -> CacheChanges:
        with self._lock:
            if version <= 0 or version < self._reset_version:
                return CacheChanges(self._version, tuple(self._rows.values()), (), True)
            if version >= self._version:
                return CacheChanges(self._version, (), (), False)
            upserts: list[Row] = []
            deletes: list[str] = []
            # walk newest first and stop at the first change the reader already has
            for uid, changed_at in reversed(self._changed.items()):
                if changed_at <= version:
                    break
                row = self._rows.get(uid)
                if row is None:
                    deletes.append(uid)
                else:
                    upserts.append(row)
            return CacheChanges(self._version, tuple(upserts), tuple(deletes), False)

    def state(self) -> CacheState:
        with self._lock:
            count = len(self._rows) if self._synced else max(self._progress, len(self._rows))
            return CacheState(self._synced, self._error, count)

    def get(self, uid: str) -> Row | None:
        return self._rows.get(uid)

    def rows(self) -> list[Row]:
        with self._lock:
            return list(self._rows.values())

    def find(self, namespace: str, name: str) -> Row | None:
        for row in self.rows():
            if row.name == name and row.namespace == namespace:
                return row
        return None
