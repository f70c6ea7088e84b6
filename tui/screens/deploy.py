"""The deploy wizard: repository → runtime → settings → preview → apply → readiness →
test inference → load test, every operation an action from the action table.

Keyboard first: enter submits a step, ``esc`` cancels what runs or goes back one step
(every field keeps its text), ``ctrl+c`` cancels what runs. Long steps run in one exclusive
worker, so the UI never waits on the cluster. A read-only session shows apply, rollback
and undeploy disabled, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from textual import on, work
from textual.content import Content
from textual.widgets import Button, Input, OptionList

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.errors import BackendError
from mlops_tui.tui.screens import deploy_form as form_checks
from mlops_tui.tui.screens import deploy_render as render
from mlops_tui.tui.screens import deploy_steps as steps
from mlops_tui.tui.screens import serving_steps as serving
from mlops_tui.tui.screens.deploy_form import DeployForm
from mlops_tui.tui.screens.deploy_serving import ServingSteps

READONLY_REASON = "read-only session (--readonly): apply, rollback and undeploy are disabled"
KSERVE_KIND = "inferenceservices.serving.kserve.io"
KSERVE_MISSING = "the cluster does not serve InferenceService (serving.kserve.io/v1beta1)"


class DeployScreen(ServingSteps):
    """The deploy wizard. ``actions`` replaces the action table (tests hand in their own)."""

    def __init__(self, namespace: str = "", *,
                 actions: Mapping[str, Any] | None = None) -> None:
        super().__init__("Deploy a model", [cls() for cls in (*steps.DEPLOY_STEPS,
                                                               *serving.SERVING_STEPS)],
                         actions=actions)
        self.form = DeployForm(namespace=namespace or "default")
        settings = self.settings.fields
        for key in ("namespace", "replicas", "gpus", "image"):
            settings[key].input.value = getattr(self.form, key)

    @property
    def action_namespace(self) -> str:
        return self.form.namespace

    def on_mount(self) -> None:
        self.steps["runtime"].offer(self._unavailable_runtimes())
        readonly = self.readonly
        for button in (self.preview.apply, self.apply_step.rollback, self.apply_step.undeploy):
            button.disabled = readonly
        for note in (self.preview.note, self.apply_step.note):
            note.update(Content(READONLY_REASON if readonly else ""))
        self.show_step("repository")

    @property
    def readonly(self) -> bool:
        return bool(getattr(self.app.backend, "readonly", False))

    def _unavailable_runtimes(self) -> dict[str, str]:
        try:
            served = self.app.backend.resolve_kind(KSERVE_KIND) is not None
        except BackendError:
            served = False
        return {} if served else {"kserve": KSERVE_MISSING}

    # -- step shortcuts -------------------------------------------------------------------
    @property
    def settings(self) -> steps.SettingsStep:
        return self.steps["settings"]  # type: ignore[return-value]

    @property
    def preview(self) -> steps.PreviewStep:
        return self.steps["preview"]  # type: ignore[return-value]

    @property
    def apply_step(self) -> steps.ApplyStep:
        return self.steps["apply"]  # type: ignore[return-value]

    # -- 1 repository ---------------------------------------------------------------------
    @on(Input.Submitted, "#repository-input")
    def _repository_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        step = self.steps["repository"]
        problem = form_checks.repository_problem(event.value)
        step.field.show_problem(problem)  # type: ignore[attr-defined]
        if problem is None:
            self.form.repository = event.value.strip()
            self.start(self.check_repository())

    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def check_repository(self) -> None:
        step: steps.RepositoryStep = self.steps["repository"]  # type: ignore[assignment]
        step.show_problems([])
        step.show_status("checking the repository…")
        lines: list[str] = []

        def collect(event: ActionEvent) -> None:
            if event.kind in (EventKind.OUTPUT, EventKind.WARNING) and event.message:
                lines.append(event.message)

        try:
            last = await self.run_action("check_repository", {"path": self.form.repository},
                                         collect)
        except asyncio.CancelledError:
            step.show_status("check cancelled", "yellow")
            raise
        if last.kind is EventKind.FAILED:
            problems = render.field_of(last.data, "problems")
            step.show_status(last.message, "bold red")
            step.show_problems([str(p) for p in problems] if isinstance(problems, list)
                               else lines)
            return
        step.show_status(last.message or "repository looks good", "green")
        step.show_notes(lines)  # its models, warnings (a claim's contents go unread)
        models = _models_in(last.data)
        self.form.models = models
        fields = self.settings.fields
        if not fields["name"].value:
            fields["name"].input.value = form_checks.default_name(self.form.repository)
        if not fields["model"].value and models:
            fields["model"].input.value = models[0]
        self.done.add("repository")
        self.show_step("runtime")

    # -- 2 runtime ------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#runtime-list")
    def _runtime_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.form.runtime = event.option.id or "triton"
        self.done.add("runtime")
        self.show_step("settings")

    # -- 3 settings -----------------------------------------------------------------------
    @on(Input.Submitted, "#settings Input")
    def _settings_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = self.settings.fields
        for key, field in fields.items():
            setattr(self.form, key, field.value.strip())
        problems = self.form.settings_problems() or self.form.spec_problems()
        other = problems.pop("", None)  # the repository or the runtime: told in the status
        self.settings.show_problems(problems)
        if problems or other:
            count = len(problems) + (other is not None)
            self.settings.show_status("\n".join(
                [f"{count} field(s) to fix", *([other] if other else [])]), "bold red")
            self.settings.first.focus()
            return
        self.settings.show_status("")
        self.done.add("settings")
        self.show_step("preview")
        self.start(self.run_preview())

    # -- 4 preview ------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_preview(self) -> None:
        step = self.preview
        self.done.discard("preview")  # enter applies only what this dry run shows
        step.apply.disabled = True
        step.clear()
        step.show_status("server-side dry run…")
        lines: list[str] = []

        def collect(event: ActionEvent) -> None:
            if event.kind in (EventKind.WARNING, EventKind.FAILED) and event.message:
                lines.append(event.message)

        try:
            last = await self.run_action(
                "deploy", self.form.deploy_arguments(dry_run=True), collect)
        except asyncio.CancelledError:
            step.show_status("dry run cancelled", "yellow")
            raise
        if last.kind is EventKind.FAILED:
            outputs = [e.message for e in self.last_events
                       if e.kind is EventKind.OUTPUT and e.message]
            step.show_status("\n".join([*outputs, *lines]), "bold red")
            return
        step.show_status("\n".join([last.message or "dry run passed", *lines]), "green")
        await step.show_preview(last.data)
        step.apply.disabled = self.readonly
        self.done.add("preview")

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply_preview()

    def action_apply_preview(self) -> None:
        """Apply what the preview showed: only after its dry run passed, never read-only."""
        if self.readonly:
            self.preview.show_status(READONLY_REASON, "yellow")
            return
        if self.busy or "preview" not in self.done:
            return
        self.show_step("apply")
        self.start(self.run_apply())

    # -- 5 apply --------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_apply(self) -> None:
        step = self.apply_step
        step.bar.update(progress=0)
        step.events_log.clear()
        step.show_status("applying…")

        verdict_step: serving.VerdictStep = self.steps["verdict"]  # type: ignore[assignment]

        def show(event: ActionEvent) -> None:
            if event.kind is EventKind.PROGRESS and event.fraction is not None:
                step.bar.update(progress=event.fraction * 100)
            line = render.event_line(event)
            if line is not None:
                step.events_log.write(line)
            verdict = render.verdict_of(event.data)
            if verdict is not None:  # the rollout's verdict so far, one line per replica
                verdict_step.show_verdict(verdict)
                step.show_status(verdict.summary)

        try:
            last = await self.run_action(
                "deploy", self.form.deploy_arguments(dry_run=False), show)
        except asyncio.CancelledError:
            step.show_status("apply cancelled: what was sent stays applied", "yellow")
            raise
        verdict = render.verdict_of(last.data)
        if last.kind is EventKind.OK:
            step.bar.update(progress=100)
            step.show_status(last.message or "applied", "green")
            self.done.add("apply")
        else:
            step.show_status(last.message, "bold red")
        if verdict is not None:
            verdict_step.show_verdict(verdict)
            self.show_step("verdict")

    @on(Button.Pressed, "#to-verdict")
    def _to_verdict(self, event: Button.Pressed) -> None:
        event.stop()
        self.show_step("verdict")

    @on(Button.Pressed, "#rollback, #undeploy")
    def _rollback_or_undeploy(self, event: Button.Pressed) -> None:
        event.stop()
        if not self.readonly and self.form.name:
            self.start(self.confirm_and_run(event.button.id or ""))

    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def confirm_and_run(self, action: str) -> None:
        from mlops_tui.tui.screens.dialogs import ConfirmScreen

        what = f"{self.form.name} in {self.form.namespace}"
        question = (f"Roll back {what} to its previous revision?" if action == "rollback"
                    else f"Undeploy {what} (delete what deploy made)?")
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        step = self.apply_step

        def show(event: ActionEvent) -> None:
            line = render.event_line(event)
            if line is not None:
                step.events_log.write(line)

        last = await self.run_action(action, {"name": self.form.name}, show)
        step.show_status(last.message or f"{action} done",
                         "green" if last.kind is EventKind.OK else "bold red")

def _models_in(data: object) -> tuple[str, ...]:
    """Model names a check_repository result lists (``models``: names or objects)."""
    models = render.field_of(data, "models") or ()
    # "resnet (onnxruntime, versions 1, 2)": the name is the first word
    names = [m.split(" (", 1)[0].strip() if isinstance(m, str) else
             render.field_of(m, "name", "")
             for m in (models if isinstance(models, list | tuple) else ())]
    return tuple(str(n) for n in names if n)


