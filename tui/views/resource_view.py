"""One kind in one namespace: a ResourceTable kept in step with the backend's row cache.

The view reads the in-memory cache on a short timer (never the API server), applies only
what changed, and does nothing while it is not on screen. Which action keys it offers
depends on the kind's verbs, the backend's capabilities and read-only mode (check_action),
so ``?`` and the footer list only keys that work here.
"""

from __future__ import annotations

import gc
import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message

from mlops_tui.backends.models import MUTATING_VERBS, KindInfo, ResourceRef, Row, Verb
from mlops_tui.backends.protocols import (
    ClusterBackend,
    Deleter,
    Describer,
    LogSource,
    NodeOperator,
    Restarter,
    RowCache,
    Scaler,
)
from mlops_tui.tui.widgets.resource_table import ResourceTable

# action name -> (verb it needs, capability protocol the backend must implement)
ACTION_NEEDS: dict[str, tuple[Verb, type]] = {
    "describe": (Verb.DESCRIBE, Describer),
    "yaml": (Verb.YAML, Describer),
    "logs": (Verb.LOGS, LogSource),
    "previous_logs": (Verb.LOGS, LogSource),
    "scale": (Verb.SCALE, Scaler),
    "restart": (Verb.RESTART, Restarter),
    "delete": (Verb.DELETE, Deleter),
    "kill": (Verb.DELETE, Deleter),
    "cordon": (Verb.CORDON, NodeOperator),
    "uncordon": (Verb.CORDON, NodeOperator),
    "drain": (Verb.DRAIN, NodeOperator),
}


_KEY_NAMES = {"less_than_sign": "<", "greater_than_sign": ">"}


class ResourceView(Vertical):
    """Shows ``kind`` in ``namespace`` ("" = all). Actions post :class:`ActionRequested`."""

    DEFAULT_CSS = """
    ResourceView { border: round $accent; border-title-align: center; height: 1fr;
        border-subtitle-align: left; border-subtitle-color: $warning;
        border-subtitle-style: bold; }
    ResourceView > ResourceTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("d", "act('describe')", "Describe"),
        Binding("y", "act('yaml')", "YAML"),
        Binding("l", "act('logs')", "Logs"),
        Binding("p", "act('previous_logs')", "Logs previous"),
        Binding("s", "act('scale')", "Scale"),
        Binding("r", "act('restart')", "Restart"),
        Binding("c", "act('cordon')", "Cordon"),
        Binding("u", "act('uncordon')", "Uncordon"),
        Binding("r", "act('drain')", "Drain"),
        Binding("ctrl+d", "act('delete')", "Delete"),
        Binding("ctrl+k", "act('kill')", "Kill", show=False),
        Binding("ctrl+w", "toggle_wide", "Wide", show=False),
        Binding("N", "sort('NAME')", "Sort name", show=False),
        Binding("A", "sort('AGE')", "Sort age", show=False),
        Binding("S", "sort('STATUS')", "Sort status", show=False),
        Binding("R", "sort('RESTARTS')", "Sort restarts", show=False),
        Binding("U", "sort('GPU')", "Sort GPU", show=False),
        Binding("less_than_sign", "sort_step(-1)", "Sort ←", show=False),
        Binding("greater_than_sign", "sort_step(1)", "Sort →", show=False),
    ]

    class ActionRequested(Message):
        """The user asked for ``action`` on ``ref`` (the app runs it in a worker)."""

        def __init__(self, action: str, ref: ResourceRef, row: Row) -> None:
            super().__init__()
            self.action, self.ref, self.row = action, ref, row

    class Synced(Message):
        """The cache's state changed: the header shows it."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, backend: ClusterBackend, kind: KindInfo, namespace: str,
                 filter_text: str = "", poll_seconds: float = 0.25) -> None:
        super().__init__()
        self.backend = backend
        self.kind = kind
        self.namespace = namespace if kind.namespaced else ""
        self.cache: RowCache = backend.cache(kind, self.namespace)
        self._version = 0
        self._initial_filter = filter_text
        self._poll_seconds = poll_seconds
        self._sync_text = ""
        self._painted_at = 0.0
        self._title = ""
        self._problem = ""

    def compose(self) -> ComposeResult:
        yield ResourceTable()

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        self.table.set_columns(self.cache.columns)
        self.table.clock = getattr(self.app, "clock", time.time)
        if self._initial_filter:
            self.table.set_filter(self._initial_filter)
        self.sync()
        self.set_interval(self._poll_seconds, self.sync)
        self.table.focus()

    # -- cache -> table -------------------------------------------------------------------
    def sync(self) -> None:
        """Apply what changed in the cache since the last look (cheap when nothing did)."""
        if not self.screen.is_active or not self.display:
            return  # hidden views draw nothing
        changes = self.cache.changes_since(self._version)
        if changes.reset or changes.upserts or changes.deletes:
            self.table.apply(changes)
            if changes.reset and len(changes.upserts) > 5_000:
                # tens of thousands of long-lived rows make every full GC pass walk them
                # (50-100 ms, a stutter on a keystroke); freeze them out of the young gens
                gc.freeze()
        now = time.monotonic()
        if now - self._painted_at >= 1.0:  # ages advance: repaint the visible lines
            self._painted_at = now
            self.table.refresh()
        self._version = changes.version
        state = self.cache.state()
        if state.error:
            text = f"⚠ {state.error}"
        elif not state.synced:
            text = f"syncing {self.kind.name}… {state.count:,}"
        else:
            text = f"watching {state.count:,} {self.kind.name}"
        if text != self._sync_text:
            self._sync_text = text
            self.post_message(self.Synced(text))
        self._update_title()

    @property
    def title_text(self) -> str:
        """The border title as shown (plain): ``pods(all)[3/42] </web>``."""
        return self._title

    @property
    def filter_problem(self) -> str:
        """Why the filter is not applied as typed (shown under the table), "" if it is."""
        return self._problem

    def _update_title(self) -> None:
        table = self.table
        ns = self.namespace or ("all" if self.kind.namespaced else "")
        count = (f"{table.visible_count:,}/{table.row_count:,}"
                 if table.filter_text else f"{table.row_count:,}")
        title = f" {self.kind.display}" + (f"({ns})" if ns else "") + f"[{count}] "
        if table.filter_text:
            title += f"</{table.filter_text}> "
        if title != self._title:
            self._title = title
            # Content, not a str: a str title is read as markup, and the filter is typed
            self.border_title = Content(title)
        problem = table.filter_error
        if problem != self._problem:
            self._problem = problem
            self.border_subtitle = Content(f" ⚠ {problem} ") if problem else None

    def set_filter(self, text: str) -> None:
        self.table.set_filter(text)
        self._update_title()

    # -- actions --------------------------------------------------------------------------
    def supports(self, action: str) -> bool:
        need = ACTION_NEEDS.get(action)
        if need is None:
            return True
        verb, capability = need
        if verb in MUTATING_VERBS and self.backend.readonly:
            return False
        return verb in self.kind.verbs and isinstance(self.backend, capability)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters:
            return self.supports(str(parameters[0]))
        if action == "sort" and parameters:
            return any(c.name == parameters[0] for c in self.cache.columns)
        return True

    def keys(self, shown_only: bool = False) -> list[tuple[str, str]]:
        """(key, description) of every binding that works here now (``shown_only``: the
        ones worth a hint in the header)."""
        out = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if shown_only and not binding.show:
                continue
            name, _, rest = binding.action.partition("(")
            args = tuple(a.strip().strip("'\"") for a in rest.rstrip(")").split(",") if a.strip())
            if self.check_action(name, args):
                out.append((_KEY_NAMES.get(binding.key, binding.key), binding.description))
        return out

    def current_ref(self) -> tuple[ResourceRef, Row] | None:
        row = self.table.cursor_row
        if row is None:
            return None
        return ResourceRef(self.kind, row.name, row.namespace), row

    def action_act(self, action: str) -> None:
        current = self.current_ref()
        if current is None:
            self.app.bell()
            return
        self.post_message(self.ActionRequested(action, *current))

    def action_toggle_wide(self) -> None:
        self.table.wide = not self.table.wide

    def action_sort(self, column: str) -> None:
        for index, col in enumerate(self.cache.columns):
            if col.name == column:
                self.table.sort_by(index)
                return

    def action_sort_step(self, step: int) -> None:
        count = len(self.cache.columns)
        current = self.table.sort_column
        self.table.sort_by(((current if current is not None else 0) + step) % count)
