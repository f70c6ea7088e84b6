"""The provision screen's pages: path → form → preflight → plan → apply.

As in deploy_steps.py (whose :class:`Step` and :class:`Field` these reuse): widgets are
made in ``__init__`` and held, the screen sets what a page shows and runs the actions; a
page never runs one. Every text is plain Text/Content, never markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Label,
    ProgressBar,
    RichLog,
    Static,
)
from textual.widgets.option_list import Option

from mlops_tui.tui.screens import provision_render as render
from mlops_tui.tui.screens.deploy_steps import ChoiceStep, Field, Step
from mlops_tui.tui.screens.provision_form import PATH_CHOICES
from mlops_tui.tui.widgets.host_table import HostTable
from mlops_tui.tui.widgets.step_list import StepList
from mlops_tui.tui.widgets.text_lines import TextLines

MAX_LOG_LINES = 2000  # the live log keeps the newest lines; the state dir keeps none


class PathStep(ChoiceStep):
    key, title = "path", "Path"
    hints = "↑↓ choose · enter next · esc close"
    question = "How to make the cluster (or pick one made before: resume or destroy):"
    list_id = "path-list"

    def offer(self, existing: list[tuple[str, str]]) -> None:
        """The paths, then ``(cluster, summary)`` of clusters made before."""
        self.choices.clear_options()
        for key, summary in PATH_CHOICES:
            self.choices.add_option(Option(Content(f"{key:<12} {summary}"), id=f"path:{key}"))
        for cluster, summary in existing:
            self.choices.add_option(Option(Content(f"{render.one_line(cluster, 40):<12} "
                                                   f"{render.one_line(summary, 100)}"),
                                           id=f"cluster:{cluster}"))
        self.choices.highlighted = 0


class FormStep(Step):
    key, title = "form", "Cluster"
    hints = ("tab next · a/e/x add/edit/remove host · space toggles · enter preflight · "
             "esc back")
    DEFAULT_CSS = """
    FormStep > VerticalScroll { height: 1fr; }
    FormStep #hosts-problem { color: $error; height: auto; padding-left: 16; }
    FormStep Checkbox { margin-left: 16; border: none; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.cluster = Field("cluster", "Cluster name", placeholder="lab (a DNS label)")
        self.hosts_label = Label("Hosts (a add · e/enter edit · x remove):")
        self.hosts = HostTable(id="hosts")
        self.hosts_problem = Static("", id="hosts-problem")
        self.gpu = Checkbox(Content("GPU: NVIDIA container toolkit, device plugin, smoke test"),
                            id="gpu")
        self.monitoring = Checkbox(Content("Monitoring: Prometheus, DCGM exporter, Grafana"),
                                   id="monitoring")
        self.airgap = Field("airgap", "Air-gap bundle", placeholder="empty: online install")
        self.accept_new = Checkbox(Content("Accept new host keys without asking"),
                                   id="accept-new")
        self.next = Button("Preflight (enter)", variant="primary", id="to-preflight")

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield self.cluster
            yield self.hosts_label
            yield self.hosts
            yield self.hosts_problem
            yield self.gpu
            yield self.monitoring
            yield self.airgap
            yield self.accept_new
            yield self.status
            with Horizontal():
                yield self.next

    @property
    def first(self) -> Widget:
        return self.cluster.input

    def show_ssh(self, over_ssh: bool) -> None:
        """Hosts and host keys only where the path goes over SSH."""
        for widget in (self.hosts_label, self.hosts, self.hosts_problem, self.accept_new):
            widget.display = over_ssh

    def show_problems(self, problems: dict[str, str]) -> None:
        self.cluster.show_problem(problems.get("cluster"))
        self.airgap.show_problem(problems.get("airgap"))
        self.hosts_problem.update(Content(problems.get("hosts", "")))


class PreflightStep(Step):
    key, title = "preflight", "Preflight"
    hints = "←→↑↓ a check (its fix below) · enter plan · r run again · esc back"
    BINDINGS = [Binding("r", "screen.preflight", "Run again")]
    DEFAULT_CSS = """
    PreflightStep #preflight-table { height: auto; max-height: 60%; }
    PreflightStep #preflight-fix { height: auto; margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.table = DataTable(id="preflight-table", cursor_type="cell")
        self.fix = Static("", id="preflight-fix")
        self.hosts: list[render.HostChecks] = []
        self.columns: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.table
        yield self.fix

    @property
    def first(self) -> Widget:
        return self.table

    def show_hosts(self, hosts: list[render.HostChecks]) -> None:
        """One row per host, one column per check; the first failure selected."""
        self.hosts, self.columns = hosts, render.check_names(hosts)
        rows = [(Text(host.host, style="bold"),
                 *(render.check_text(host.check(n)) for n in self.columns)) for host in hosts]
        self.table.clear(columns=True)
        for index, label in enumerate(("host", *self.columns)):  # widths: see HostTable
            self.table.add_column(label, width=max([len(label),
                                                    *(r[index].cell_len for r in rows)]))
        for cells in rows:
            self.table.add_row(*cells)
        self.table.display = bool(hosts)
        failing = next(((r, c) for r, host in enumerate(hosts)
                        for c, name in enumerate(self.columns)
                        if (cell := host.check(name)) and cell.status != "ok"), (0, 0))
        if hosts:
            self.table.move_cursor(row=failing[0], column=failing[1] + 1)
        self.show_fix(*failing)

    def show_fix(self, row: int, column: int) -> None:
        """The check at ``row`` × check ``column`` and, when not ok, what to do."""
        if 0 <= row < len(self.hosts) and 0 <= column < len(self.columns):
            host = self.hosts[row]
            self.fix.update(render.check_detail(host.host, host.check(self.columns[column])))
        else:
            self.fix.update("")


class PlanStep(Step):
    key, title = "plan", "Plan"
    hints = "↑↓ scroll · enter apply · esc back"
    BINDINGS = [Binding("enter", "screen.apply", "Apply")]

    def __init__(self) -> None:
        super().__init__()
        self.lines = TextLines(id="plan-text")
        self.apply = Button("Apply (enter)", variant="warning", id="apply")
        self.note = Static("", classes="note")

    DEFAULT_CSS = """
    PlanStep #plan-text { height: 1fr; border: round $panel-lighten-2; }
    """

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.lines
        with Horizontal():
            yield self.apply
            yield self.note

    @property
    def first(self) -> Widget:
        return self.lines


class ApplyStep(Step):
    key, title = "apply", "Apply"
    hints = "ctrl+c cancel · r resume · o open the cluster · D destroy · esc back"
    BINDINGS = [Binding("r", "screen.resume", "Resume"), Binding("o", "screen.open", "Open"),
                Binding("D", "screen.destroy", "Destroy")]
    DEFAULT_CSS = """
    ApplyStep #apply-steps { height: auto; }
    ApplyStep #provision-log { height: 1fr; min-height: 3; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.steps = StepList(id="apply-steps")
        self.bar = ProgressBar(total=100, show_eta=False, id="provision-progress")
        self.events_log = RichLog(markup=False, wrap=True, max_lines=MAX_LOG_LINES,
                                  id="provision-log")
        self.open = Button("Open the cluster (o)", variant="success", id="open",
                           disabled=True)
        self.resume = Button("Resume (r)", id="resume", disabled=True)
        self.destroy = Button("Destroy (D)", variant="error", id="destroy")
        self.note = Static("", classes="note")

    def compose(self) -> ComposeResult:
        yield self.steps
        yield self.bar
        yield self.status
        yield self.events_log
        with Horizontal():
            yield self.open
            yield self.resume
            yield self.destroy
        yield self.note

    @property
    def first(self) -> Widget:
        return self.events_log


PROVISION_STEPS: tuple[type[Step], ...] = (PathStep, FormStep, PreflightStep, PlanStep,
                                            ApplyStep)
