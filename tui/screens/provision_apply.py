"""The provision screen's last page: apply (and resume), destroy, open the new cluster.

As the deploy wizard's ServingSteps: a :class:`WizardScreen` part the screen class builds
on. Apply streams the ``provision`` action's step events into the step list (✓ ⟳ ✗ ⤼),
the overall bar and the live log; a failure names its step and ``r`` resumes from it;
``ctrl+c`` cancels (the cluster's state records it); destroy asks for the cluster's exact
name first. Read-only sessions neither apply, resume nor destroy.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import on, work
from textual.widgets import Button

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.tui.screens import provision_render as render
from mlops_tui.tui.screens.provision_dialogs import DestroyScreen, ask
from mlops_tui.tui.screens.provision_form import ProvisionForm
from mlops_tui.tui.screens.wizard import WizardScreen


class ApplySteps(WizardScreen):
    """Apply, resume, destroy and open ``form``'s cluster along ``plan``."""

    form: ProvisionForm
    plan: list[render.PlanRow]
    context: str  # the kubeconfig context the cluster was merged as ("" before)
    failed: render.StepUpdate | None

    def page_of(self, key: str) -> Any:
        return self.steps[key]

    @property
    def readonly(self) -> bool:
        return bool(getattr(self.app.backend, "readonly", False))

    @on(Button.Pressed, "#apply, #resume, #open, #destroy")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        {"apply": self.action_apply, "resume": self.action_resume, "open": self.action_open,
         "destroy": self.action_destroy}[event.button.id or "apply"]()

    # -- 5 apply, resume, destroy, open ---------------------------------------------------
    def action_apply(self) -> None:
        """Apply what the plan showed: only after it was made, never read-only."""
        if self.readonly or self.busy or "plan" not in self.done:
            return
        self.show_step("apply")
        self.page_of("apply").steps.set_steps([(r.id, r.title) for r in self.plan])
        self.start(self.run_apply())

    def action_resume(self) -> None:
        if not (self.busy or self.page_of("apply").resume.disabled):
            self.start(self.run_apply())

    def action_destroy(self) -> None:
        if not (self.busy or self.readonly) and self.form.cluster:
            self.start(self.run_destroy())

    def action_open(self) -> None:
        """Switch the app to the new cluster's context and close this screen."""
        if self.context and not self.busy:
            self.app.switch_context(self.context)
            self.dismiss()

    def show_event(self, event: ActionEvent) -> None:
        """One event of apply or destroy: the step list, the bar and the log."""
        page = self.page_of("apply")
        update = render.step_update(event)
        if update is not None:
            state = update.status if update.terminal else "running"
            # a task's line goes to the log only; "started" says the title again
            quiet = update.status in ("output", "started")
            page.steps.mark(update.step, state, "" if quiet else update.message,
                            title=update.message if update.status == "started" else "")
            if update.status == "failed":
                self.failed = update
        line = render.log_line(event, update)
        if line is not None:
            page.events_log.write(line)
        # the action's fraction is of the whole run; without one, count the steps
        overall = event.fraction if event.fraction is not None and update is not None else (
            page.steps.fraction())
        page.bar.update(progress=overall * 100)

    @work(exclusive=True, exit_on_error=False, group="provision")
    async def run_apply(self) -> None:
        page = self.page_of("apply")
        self.failed = None
        page.open.disabled = page.resume.disabled = True
        page.show_status("applying…")
        page.events_log.write(Text(f"— apply {self.form.cluster} —", style="bold"))
        try:
            last = await self.run_action(
                "provision", self.form.provision_arguments(plan_only=False), self.show_event)
        except asyncio.CancelledError:
            page.steps.interrupt()
            page.resume.disabled = self.readonly
            page.show_status("apply cancelled: the cluster's state records where it "
                             "stopped · r resumes", "yellow")
            raise
        if last.kind is EventKind.OK:
            self.context = render.context_of(last)
            page.bar.update(progress=100)
            page.open.disabled = not self.context
            page.show_status(f"kubeconfig merged as context {self.context} · o opens it"
                             if self.context else last.message or "done", "green")
            self.done.add("apply")
            return
        failed = self.failed
        where = f"{failed.step} failed: " if failed is not None and (
            failed.step not in last.message) else ""
        page.show_status(f"{where}{last.message}\nr resumes from the failed step",
                         "bold red")
        page.resume.disabled = self.readonly

    @work(exclusive=True, exit_on_error=False, group="provision")
    async def run_destroy(self) -> None:
        confirm = await ask(self.app, DestroyScreen(self.form.cluster))
        if confirm is None:
            return
        page = self.page_of("apply")
        self.show_step("apply")
        page.steps.set_steps([])
        page.open.disabled = page.resume.disabled = True
        page.show_status(f"destroying {self.form.cluster}…")
        page.events_log.write(Text(f"— destroy {self.form.cluster} —", style="bold"))
        try:
            last = await self.run_action("destroy", self.form.destroy_arguments(confirm),
                                         self.show_event)
        except asyncio.CancelledError:
            page.steps.interrupt()
            page.show_status("destroy cancelled: D runs it again", "yellow")
            raise
        ok = last.kind is EventKind.OK
        page.show_status(last.message or f"{self.form.cluster} destroyed",
                         "green" if ok else "bold red")
        if ok:
            self.context = ""
