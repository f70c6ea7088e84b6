"""``:gpu``, ``:models``, ``:pulse``: live panels from the metrics source.

The poll is a worker that re-arms itself with a timer when it finishes, so two polls never
overlap; while the view is hidden (another screen or a modal on top) it fetches nothing.
A failed refresh keeps the last good numbers on screen, marked stale with the time they
were taken, and retries with backoff until the source answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.metrics_models import MetricsSnapshot, Screen, Window
from mlops_tui.backends.models import CacheChanges
from mlops_tui.backends.protocols import ClusterBackend, MetricsSource
from mlops_tui.tui.crash import report_failed_worker
from mlops_tui.tui.panels.render import (
    GPU_COLUMNS,
    MODEL_COLUMNS,
    allocation_from_rows,
    gpu_rows,
    gpu_summary,
    model_rows,
    node_summary,
)
from mlops_tui.tui.timefmt import clock_text, display_tz
from mlops_tui.tui.widgets.metric_plot import MetricPlot
from mlops_tui.tui.widgets.resource_table import ResourceTable

log = logging.getLogger(__name__)
SourceGetter = Callable[[], Awaitable[MetricsSource]]
MAX_BACKOFF = 30.0

PLOTS: dict[Screen, tuple[tuple[str, str, str], ...]] = {
    # screen -> (series name, title, unit)
    Screen.GPU: (("gpu_util_range", "GPU utilization %", "%"),),
    Screen.MODELS: (("triton_throughput_range", "Throughput req/s", "req/s"),
                    ("triton_latency_range", "Avg latency ms", "ms")),
    Screen.PULSE: (("triton_throughput_range", "Throughput req/s", "req/s"),),
}




class DashboardView(Vertical):
    DEFAULT_CSS = """
    DashboardView { border: round $accent; border-title-align: center; height: 1fr; }
    DashboardView > .status { height: 1; width: 1fr; padding: 0 1; color: $text-muted; }
    DashboardView > .status.-stale { color: $warning; text-style: bold; }
    DashboardView > .status.-error { color: $error; text-style: bold; }
    DashboardView > .summary { height: 3; width: 1fr; padding: 0 1; }
    DashboardView ResourceTable { height: 1fr; min-height: 5; }
    DashboardView > Horizontal { height: 1fr; min-height: 10; }
    DashboardView.-compact > Horizontal { height: 12; }
    """
    BINDINGS = [
        Binding("w", "next_window", "Window"),
        Binding("1", "window('5m')", "5m", show=False),
        Binding("2", "window('15m')", "15m", show=False),
        Binding("3", "window('1h')", "1h", show=False),
        Binding("4", "window('6h')", "6h", show=False),
    ]

    class Refreshed(Message):
        """A refresh finished (ok or stale): the header shows ``text``."""

        def __init__(self, view: DashboardView, text: str) -> None:
            super().__init__()
            self.view, self.text = view, text

        @property
        def control(self) -> DashboardView:
            return self.view

    def __init__(self, screen: Screen, get_source: SourceGetter,
                 backend: ClusterBackend | None = None, *, interval: float = 2.0,
                 window: Window = Window.M15, node: str | None = None,
                 model: str | None = None, pods: str | None = None,
                 compact: bool = False, clock: Callable[[], float] = time.time) -> None:
        super().__init__(classes="-compact" if compact else "")
        self.screen_kind = screen
        self._get_source = get_source
        self._backend = backend
        self.interval = interval
        self.window = window
        self.node, self.model, self.pods = node, model, pods
        self._clock = clock
        self.last: MetricsSnapshot | None = None
        self.last_good_at: float | None = None
        self.error = ""
        self.failures = 0
        self.refreshes = 0
        self._timer: Timer | None = None
        self._source_text = ""

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # markup=False: error texts and labels come from servers, never parsed as markup
        yield Static("connecting…", classes="status", markup=False)
        if self.screen_kind in (Screen.GPU, Screen.PULSE):
            yield Static("", classes="summary", markup=False)
            yield ResourceTable(GPU_COLUMNS, id="gpu-table")
        if self.screen_kind in (Screen.MODELS, Screen.PULSE):
            yield ResourceTable(MODEL_COLUMNS, id="model-table")
        with Horizontal():
            for name, title, _ in PLOTS[self.screen_kind]:
                plot = MetricPlot(id=f"plot-{name}")
                plot.border_title = title
                yield plot

    @property
    def table(self) -> ResourceTable:
        return self.query(ResourceTable).first()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    def on_mount(self) -> None:
        scope = self.node or self.model or self.pods or "all"
        self.border_title = Content(f" {self.screen_kind.value}({scope}) ")  # plain text
        for table in self.query(ResourceTable):
            table.set_columns(GPU_COLUMNS if table.id == "gpu-table" else MODEL_COLUMNS)
        self.table.focus()
        self.poll()

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    def set_filter(self, text: str) -> None:
        for table in self.query(ResourceTable):
            table.set_filter(text)

    def keys(self, shown_only: bool = False) -> list[tuple[str, str]]:
        return [("w", f"Window ({self.window.value})"), ("1-4", "5m/15m/1h/6h")]

    # -- the poll -------------------------------------------------------------------------
    def _visible(self) -> bool:
        return self.is_mounted and self.screen.is_active and self.display

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self.poll)

    @work(exclusive=True, group="metrics-poll", exit_on_error=False)
    async def poll(self) -> None:
        if not self._visible():
            self._arm(self.interval)  # hidden: fetch nothing, look again later
            return
        try:
            source = await self._get_source()
            self._source_text = source.describe()
            snapshot = await source.snapshot(self.screen_kind, self.window, node=self.node,
                                             model=self.model, pods=self.pods)
        except Exception as exc:  # noqa: BLE001 - a refresh failure must not stop the poll
            if not isinstance(exc, BackendError):
                log.exception("metrics refresh failed")
            self.failures += 1
            self.error = str(exc) if isinstance(exc, BackendError) else (
                f"internal error: {exc.__class__.__name__} (see the log)")
            delay = min(MAX_BACKOFF, self.interval * 2 ** self.failures)
            self._show_status(retry_in=delay)
            self._arm(delay)
            return
        self.failures = 0
        self.error = ""
        self.refreshes += 1
        self.last, self.last_good_at = snapshot, snapshot.taken_at
        self._draw(snapshot)
        self._show_status()
        self._arm(self.interval)

    # -- drawing (only from a finished refresh) -------------------------------------------
    def _draw(self, snap: MetricsSnapshot) -> None:
        if self.screen_kind in (Screen.GPU, Screen.PULSE):
            table = self.query_one("#gpu-table", ResourceTable)
            table.apply(CacheChanges(self.refreshes, tuple(gpu_rows(snap.gpus)), (), True))
            # fixed-size lines: no re-layout of the screen for new text
            lines = [gpu_summary(snap.gpus, self._allocation()) if snap.gpus else "",
                     node_summary(snap.nodes)]
            self.query_one(".summary", Static).update("\n".join(filter(None, lines)),
                                                      layout=False)
        if self.screen_kind in (Screen.MODELS, Screen.PULSE):
            table = self.query_one("#model-table", ResourceTable)
            table.apply(CacheChanges(self.refreshes, tuple(model_rows(snap.models)), (), True))
        for name, title, unit in PLOTS[self.screen_kind]:
            plot = self.query_one(f"#plot-{name}", MetricPlot)
            plot.show(f"{title} · {snap.window.value}", snap.series.get(name, ()),
                      snap.taken_at, unit)

    def _allocation(self):
        backend = self._backend
        if backend is None:
            return None
        kind = backend.resolve_kind("nodes")
        if kind is None:
            return None
        cache = backend.cache(kind, "")  # the watch-fed node cache: no API call here
        return allocation_from_rows(cache.columns, cache.changes_since(0).upserts)

    def _show_status(self, retry_in: float | None = None) -> None:
        """One line: ``●`` healthy; ``▲ STALE`` when a refresh failed and the last numbers
        stay; ``✖`` in red when the refresh failed with nothing to show yet, or when some
        of its queries failed (what did answer is shown). An error never reads as "no
        data"."""
        status = self.query_one(".status", Static)
        source = self._source_text or "metrics"
        snap = self.last
        retry = f" · retrying in {retry_in:.0f}s" if retry_in else ""
        if self.error and self.last_good_at:
            good = clock_text(self.last_good_at, display_tz(self))
            text, level = f"▲ STALE · last good at {good} · {self.error}{retry}", "-stale"
        elif self.error:
            text, level = f"✖ ERROR · {self.error}{retry}", "-error"
        else:
            queries = f"{snap.queries} queries · " if snap and snap.queries is not None else ""
            notes = f" · {'; '.join(snap.notes)}" if snap and snap.notes else ""
            text = (f"● {source} · window {self.window.value} · {queries}updated "
                    f"{clock_text(self.last_good_at or self._clock(), display_tz(self))}{notes}")
            level = ""
            if snap and snap.errors:
                failed = len(snap.errors)
                of = f" of {snap.queries}" if snap.queries is not None else ""
                more = f" (+{failed - 1} more)" if failed > 1 else ""
                noun = "queries" if of or failed > 1 else "query"
                text = f"✖ {failed}{of} {noun} failed: {snap.errors[0]}{more} · {text}"
                level = "-error"
        status.set_class(level == "-stale", "-stale")
        status.set_class(level == "-error", "-error")
        status.update(text, layout=False)
        self.post_message(self.Refreshed(self, text))

    # -- keys -----------------------------------------------------------------------------
    def action_next_window(self) -> None:
        self.action_window(self.window.next().value)

    def action_window(self, value: str) -> None:
        self.window = Window(value)
        self.poll()

