"""The provision screen (``:provision``): path → form → preflight → plan → apply, and the
way back (destroy), every operation one of the actions ``preflight``, ``provision`` and
``destroy`` from the action table; the screen itself never opens SSH or runs Ansible.

Keyboard first, as the deploy wizard (whose :class:`WizardScreen` this is): enter moves
on, ``esc`` cancels what runs or goes back a step (fields keep their text), ``ctrl+c``
cancels a running apply (the cluster's state records where it stopped; ``r`` resumes).
A cluster made before is offered on the first page (resume, open or destroy it), as is
``:provision NAME``. A read-only session plans but neither applies nor destroys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from textual import on, work
from textual.content import Content
from textual.widgets import Button, DataTable, Input, OptionList

from mlops_tui.backends.actions.base import ActionContext
from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.protocols import ProvisionerSource
from mlops_tui.tui.screens import provision_render as render
from mlops_tui.tui.screens import provision_steps as pages
from mlops_tui.tui.screens.provision_apply import ApplySteps
from mlops_tui.tui.screens.provision_dialogs import HostScreen
from mlops_tui.tui.screens.provision_form import ProvisionForm, form_from_state
from mlops_tui.tui.widgets.host_table import HostTable

READONLY_REASON = "read-only session (--readonly): apply, resume and destroy are disabled"


def existing_clusters(ctx: ActionContext) -> list[Any]:
    """The states of clusters made before: the session backend's own where it makes its
    provisioners (the demo's), else the state directory's (none when it cannot be read)."""
    try:
        if isinstance(ctx.backend, ProvisionerSource):
            listed = getattr(ctx.backend, "clusters", None)
            states = listed() if callable(listed) else []
        else:
            from mlops_tui.backends.provisioning.state import StateStore

            states = StateStore(ctx.state_root).list()
        return [s for s in states if getattr(s, "phase", "") != "destroyed"]
    except (ImportError, BackendError, OSError, ValueError):
        return []


class ProvisionScreen(ApplySteps):
    """Make a cluster. ``actions`` replaces the action table (tests hand in their own);
    ``cluster`` opens that cluster's state (``:provision NAME``)."""

    def __init__(self, cluster: str = "", *, actions: Mapping[str, Any] | None = None) -> None:
        super().__init__("Provision a cluster", [cls() for cls in pages.PROVISION_STEPS],
                         actions=actions)
        self.form = ProvisionForm()
        self.wanted_cluster = cluster
        self.plan: list[render.PlanRow] = []
        self.context = ""  # the kubeconfig context the cluster was merged as
        self.failed: render.StepUpdate | None = None
        self.clusters: dict[str, Any] = {}  # made before (their states), by name

    def on_mount(self) -> None:
        self.clusters = {s.cluster: s for s in existing_clusters(self.app.action_context())}
        self.page_of("path").offer([(name, f"made before: {s.path}, {s.phase}")
                                    for name, s in self.clusters.items()])
        for page in (self.page_of("plan"), self.page_of("apply")):
            page.note.update(Content(READONLY_REASON if self.readonly else ""))
        self.page_of("apply").destroy.disabled = self.readonly
        self.show_step("path")
        if self.wanted_cluster:
            self.load_cluster(self.wanted_cluster)

    # -- 1 path, or a cluster made before ------------------------------------------------
    @on(OptionList.OptionSelected, "#path-list")
    def _path_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        kind, _, value = (event.option.id or "").partition(":")
        if kind == "cluster":
            self.load_cluster(value)
            return
        self.form.path = value
        self.page_of("form").show_ssh(self.form.over_ssh)
        self.done.add("path")
        self.show_step("form")

    def load_cluster(self, name: str) -> None:
        """Open a cluster made before on the apply page: resume, open or destroy it."""
        state = self.clusters.get(name)
        if state is None:
            self.page_of("path").show_status(
                f"no cluster named {render.one_line(name, 63)!r} was made here", "bold red")
            return
        self.form = form_from_state(state)
        form = self.page_of("form")
        form.cluster.input.value = self.form.cluster
        form.airgap.input.value = self.form.airgap
        form.gpu.value, form.monitoring.value = self.form.gpu, self.form.monitoring
        form.hosts.set_hosts(self.form.hosts)
        form.show_ssh(self.form.over_ssh)
        self.context = str(getattr(state, "context", "") or "")
        apply = self.page_of("apply")
        apply.steps.set_steps([(step, step) for step in getattr(state, "completed", [])])
        for step in getattr(state, "completed", []):
            apply.steps.mark(step, "ok")
        phase = str(getattr(state, "phase", ""))
        error = render.one_line(getattr(state, "last_error", "") or "", 300)
        apply.show_status(f"{self.form.cluster}: {phase}" + (f" · {error}" if error else "")
                          + " · r resume · o open · D destroy")
        apply.resume.disabled = self.readonly or phase == "ready"
        apply.open.disabled = not self.context
        self.done.update({"path", "form"})
        self.show_step("apply")

    # -- 2 the form -----------------------------------------------------------------------
    @on(HostTable.EditRequested)
    def _edit_host(self, event: HostTable.EditRequested) -> None:
        event.stop()
        hosts, index = self.form.hosts, event.index
        old = hosts[index] if index is not None and 0 <= index < len(hosts) else None

        def saved(host: Any) -> None:
            if host is not None:
                if old is None:
                    hosts.append(host)
                else:
                    hosts[hosts.index(old)] = host
                self.page_of("form").hosts.set_hosts(hosts)

        self.app.push_screen(HostScreen(old), callback=saved)

    @on(HostTable.RemoveRequested)
    def _remove_host(self, event: HostTable.RemoveRequested) -> None:
        event.stop()
        if 0 <= event.index < len(self.form.hosts):
            del self.form.hosts[event.index]
            self.page_of("form").hosts.set_hosts(self.form.hosts)

    @on(Input.Submitted, "#form Input")
    @on(Button.Pressed, "#to-preflight")
    def submit_form(self, event: Input.Submitted | Button.Pressed | None = None) -> None:
        if event is not None:
            event.stop()
        page = self.page_of("form")
        form = self.form
        form.cluster, form.airgap = page.cluster.value.strip(), page.airgap.value.strip()
        form.gpu, form.monitoring = page.gpu.value, page.monitoring.value
        form.accept_new_host_keys = page.accept_new.value
        spec = self._spec("provision")
        problems = form.problems() or form.request_problems(getattr(spec, "request", None))
        other = problems.pop("", None)
        page.show_problems(problems)
        if problems or other:
            page.show_status("\n".join([f"{len(problems) + (other is not None)} field(s) "
                                        "to fix", *([other] if other else [])]), "bold red")
            return
        page.show_status("")
        self.done.add("form")
        if not form.over_ssh:  # this machine: the plan's own first step checks it
            self.page_of("preflight").show_status(
                "k3s-local: this machine is checked by the plan's preflight step", "green")
            self.done.add("preflight")
            self.to_plan()
            return
        self.show_step("preflight")
        self.start(self.run_preflight())

    def _spec(self, name: str) -> Any:
        from mlops_tui.backends.actions import ACTIONS

        return (self._actions if self._actions is not None else ACTIONS).get(name)

    # -- 3 preflight ----------------------------------------------------------------------
    def action_preflight(self) -> None:
        if not self.busy and "form" in self.done and self.form.over_ssh:
            self.start(self.run_preflight())

    @work(exclusive=True, exit_on_error=False, group="provision")
    async def run_preflight(self) -> None:
        page = self.page_of("preflight")
        self.done.discard("preflight")
        page.show_status("checking " + ("this machine" if not self.form.over_ssh else
                                        f"{len(self.form.hosts)} host(s)") + "…")

        def progress(event: ActionEvent) -> None:
            if event.kind in (EventKind.PROGRESS, EventKind.OUTPUT) and event.message:
                page.show_status(render.one_line(event.message))

        try:
            last = await self.run_action("preflight", self.form.preflight_arguments(),
                                         progress)
        except asyncio.CancelledError:
            page.show_status("preflight cancelled", "yellow")
            raise
        hosts = render.preflight_hosts(last.data)
        page.show_hosts(hosts)
        failed, warnings = render.preflight_summary(hosts)
        if last.kind is EventKind.FAILED or failed:
            told = last.message if last.kind is EventKind.FAILED else ""
            page.show_status((told or f"{failed} check(s) failed") + (
                "\nthe selected cell says what to do; r runs preflight again"
                if failed else ""), "bold red")
            return
        page.show_status("every check passed" + (f", {warnings} warning(s)" if warnings else "")
                         + " · enter plans", "yellow" if warnings else "green")
        self.done.add("preflight")

    @on(DataTable.CellHighlighted, "#preflight-table")
    def _check_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.page_of("preflight").show_fix(event.coordinate.row, event.coordinate.column - 1)

    @on(DataTable.CellSelected, "#preflight-table")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.to_plan()

    def to_plan(self) -> None:
        """On to the plan, once preflight passed."""
        if not self.busy and "preflight" in self.done:
            self.show_step("plan")
            self.start(self.run_plan())

    # -- 4 plan ---------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="provision")
    async def run_plan(self) -> None:
        page = self.page_of("plan")
        self.done.discard("plan")
        page.apply.disabled = True
        page.lines.set_lines([])
        page.show_status("planning (nothing is changed)…")
        try:
            last = await self.run_action(
                "provision", self.form.provision_arguments(plan_only=True), lambda e: None)
        except asyncio.CancelledError:
            page.show_status("plan cancelled", "yellow")
            raise
        if last.kind is EventKind.FAILED:
            page.show_status(last.message, "bold red")
            return
        self.plan = render.plan_rows(last.data)
        page.lines.set_lines(render.plan_text(self.plan))
        page.show_status(f"{len(self.plan)} step(s) for {self.form.cluster} · enter applies",
                         "green")
        page.apply.disabled = self.readonly
        self.done.add("plan")
