"""The deploy wizard's steps on a deployed model server: readiness, a test request, a load
test. As in deploy_steps.py: widgets held from ``__init__``, results shown by ``show_…``
methods the screen calls, every text plain."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, ProgressBar, RichLog, Static

from mlops_tui.tui.screens import deploy_render as render
from mlops_tui.tui.screens.deploy_steps import Field, Step
from mlops_tui.tui.widgets.loadtest_plot import LoadtestPlot

URL_HINT = "empty: a port-forward to a Ready pod; or host:port, http://host:port"


class VerdictStep(Step):
    key, title = "verdict", "Readiness"
    hints = "enter test inference · esc back"

    def __init__(self) -> None:
        super().__init__()
        self.verdict = Static("no verdict yet", id="verdict-text")
        self.events_log = RichLog(markup=False, wrap=True, id="verdict-log")
        self.next = Button("Test inference (enter)", id="to-infer")
        self.recheck = Button("Check again", id="recheck")

    def compose(self) -> ComposeResult:
        yield self.verdict
        yield self.status
        yield self.events_log
        with Horizontal():
            yield self.next
            yield self.recheck

    @property
    def first(self) -> Widget:
        return self.next

    def show_verdict(self, verdict: render.VerdictView) -> None:
        self.verdict.update(render.verdict_text(verdict))


class InferStep(Step):
    key, title = "infer", "Test inference"
    hints = "enter send · esc back"

    def __init__(self) -> None:
        super().__init__()
        self.fields = {"protocol": Field("infer-protocol", "Protocol", "grpc"),
                       "inputs": Field("inputs", "Inputs", "random",
                                       placeholder="random, zeros or a file's path"),
                       "url": Field("infer-url", "Server address", "", placeholder=URL_HINT)}
        self.outputs = DataTable(id="infer-outputs", cursor_type="row")
        self.outputs.add_columns("output", "shape", "dtype", "preview")
        self.next = Button("Load test", id="to-loadtest")
        self.events_log = RichLog(markup=False, wrap=True, id="infer-log")

    def compose(self) -> ComposeResult:
        yield Label("Enter sends one request to the model.")
        yield from self.fields.values()
        yield self.status
        yield self.outputs
        yield self.events_log
        with Horizontal():
            yield self.next

    DEFAULT_CSS = """
    InferStep #infer-outputs { height: auto; max-height: 12; }
    """

    @property
    def first(self) -> Widget:
        return self.fields["protocol"].input

    def show_result(self, message: str, data: object) -> None:
        """The outputs as a table, the message and latency above it."""
        rows, latency = render.infer_result(data)
        self.outputs.clear()
        for row in rows:
            self.outputs.add_row(*(render.Text(cell) for cell in (
                row.name, row.shape, row.dtype, row.preview)))
        status = message or "answered"
        if latency is not None:
            status += f" · latency {latency:.2f} ms"
        self.show_status(status, "green")


class LoadtestStep(Step):
    key, title = "loadtest", "Load test"
    hints = "enter run · esc cancel / back"
    COLUMNS = ("concurrency", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors")

    def __init__(self) -> None:
        super().__init__()
        self.fields = {"concurrency": Field("concurrency", "Concurrency", "1, 4, 16"),
                       "duration": Field("duration", "Duration/step", "10s"),
                       "protocol": Field("loadtest-protocol", "Protocol", "grpc"),
                       "url": Field("loadtest-url", "Server address", "",
                                    placeholder=URL_HINT),
                       "output": Field("output", "Save to", "",
                                       placeholder="results.json (optional)")}
        self.bar = ProgressBar(total=100, show_eta=False, id="loadtest-progress")
        self.table = DataTable(id="loadtest-table", cursor_type="row")
        self.table.add_columns(*self.COLUMNS)
        self.plot = LoadtestPlot(id="loadtest-plot")
        self.saved = Static("", classes="note")

    def compose(self) -> ComposeResult:
        yield from self.fields.values()
        yield self.bar
        yield self.status
        with Horizontal(id="loadtest-results"):
            yield self.table
            yield self.plot
        yield self.saved

    DEFAULT_CSS = """
    LoadtestStep #loadtest-results { height: 1fr; min-height: 12; }
    LoadtestStep #loadtest-table { width: 1fr; height: 1fr; }
    LoadtestStep #loadtest-plot { width: 1fr; }
    """

    @property
    def first(self) -> Widget:
        return self.fields["concurrency"].input

    def show_results(self, data: object) -> None:
        rows = render.loadtest_steps(data)
        self.table.clear()
        for row in rows:
            self.table.add_row(*render.step_cells(row))
        self.plot.show(rows)
        paths = render.saved_paths(data)
        self.saved.update(render.Text("saved: " + ", ".join(paths)) if paths else "")


SERVING_STEPS: tuple[type[Step], ...] = (VerdictStep, InferStep, LoadtestStep)
