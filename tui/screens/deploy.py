"""The deploy wizard: repository → runtime → settings → preview → apply → readiness →
test inference → load test, every operation an action from the action table.

Keyboard first: enter submits a step, ``esc`` cancels what runs or goes back one step
(every field keeps its text), ``ctrl+c`` cancels what runs. Long steps run in one exclusive
worker, so the UI never waits on the cluster. A read-only session shows apply, rollback
and undeploy disabled, with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Input, OptionList, Static
from textual.worker import Worker, WorkerState

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.errors import BackendError
from mlops_tui.tui.crash import report_failed_worker
from mlops_tui.tui.screens import deploy_form as form_checks
from mlops_tui.tui.screens import deploy_render as render
from mlops_tui.tui.screens import deploy_steps as steps
from mlops_tui.tui.screens.deploy_form import DeployForm

READONLY_REASON = "read-only session (--readonly): apply, rollback and undeploy are disabled"
KSERVE_KIND = "inferenceservices.serving.kserve.io"
KSERVE_MISSING = "the cluster does not serve InferenceService (serving.kserve.io/v1beta1)"
RECHECK_TIMEOUT = "60s"
_HINTS = {
    "repository": "enter check · esc close",
    "runtime": "↑↓ choose · enter next · esc back",
    "settings": "tab next field · enter preview · esc back",
    "preview": "↑↓ scroll · d diff · y YAML · enter apply · esc back",
    "apply": "enter readiness · esc cancel / back",
    "verdict": "enter test inference · esc back",
    "infer": "enter send · esc back",
    "loadtest": "enter run · esc cancel / back",
}

OnEvent = Callable[[ActionEvent], None]


class DeployScreen(Screen[None]):
    """The wizard. ``actions`` replaces the action table (tests hand in their own)."""

    DEFAULT_CSS = """
    DeployScreen > #deploy-title { height: 1; background: $accent; color: $text;
        padding: 0 1; text-style: bold; }
    DeployScreen > #deploy-steps { height: 1; padding: 0 1; }
    DeployScreen > ContentSwitcher { height: 1fr; }
    DeployScreen > #deploy-hints { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back / cancel"),
        Binding("ctrl+c", "cancel", "Cancel", priority=True, show=False),
    ]

    def __init__(self, namespace: str = "", *,
                 actions: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.form = DeployForm(namespace=namespace or "default")
        self._actions = actions
        self._worker: Worker | None = None
        self.steps = {cls.key: cls() for cls in steps.STEP_CLASSES}
        self.order = list(self.steps)
        self.done: set[str] = set()
        self.last_events: list[ActionEvent] = []  # of the newest action run (for tests)
        self._switcher = ContentSwitcher(*self.steps.values(), initial="repository")
        self._bar = Static("", id="deploy-steps")
        self._hints = Static("", id="deploy-hints")
        settings = self.settings.fields
        settings["namespace"].input.value = self.form.namespace
        settings["replicas"].input.value = self.form.replicas
        settings["gpus"].input.value = self.form.gpus
        settings["image"].input.value = self.form.image

    # -- layout and navigation ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Content("Deploy a model"), id="deploy-title")
        yield self._bar
        yield self._switcher
        yield self._hints

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

    @property
    def current(self) -> str:
        return self._switcher.current or "repository"

    @property
    def busy(self) -> bool:
        """Whether a step's action is running (ctrl+c then cancels it, not the app)."""
        return self._worker is not None and self._worker.state in (
            WorkerState.PENDING, WorkerState.RUNNING)

    def show_step(self, key: str) -> None:
        self._switcher.current = key
        bar = Text()
        for number, name in enumerate(self.order, 1):
            if number > 1:
                bar.append(" › ", style="dim")
            label = f"{number} {self.steps[name].title}"
            if name == key:
                bar.append(f" {label} ", style="reverse bold")
            else:
                bar.append(("✓ " if name in self.done else "") + label,
                           style="green" if name in self.done else "dim")
        self._bar.update(bar)
        self._hints.update(Text(_HINTS[key]))
        self.call_after_refresh(self.steps[key].first.focus)

    def action_back(self) -> None:
        if self.busy:
            self.action_cancel()
            return
        index = self.order.index(self.current)
        if index == 0:
            self.dismiss()
        else:
            self.show_step(self.order[index - 1])

    def action_cancel(self) -> None:
        if self._worker is not None and self.busy:
            self._worker.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.busy if action == "cancel" else True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

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

    # -- running actions ------------------------------------------------------------------
    async def run_action(self, name: str, arguments: dict[str, object],
                         on_event: OnEvent) -> ActionEvent:
        """Run action ``name`` in the form's namespace; every event goes to ``on_event``;
        returns the terminal one. A request the action refuses is a failed event naming
        the field."""
        from mlops_tui.backends.actions import ACTIONS, execute

        self.last_events = []

        def seen(event: ActionEvent) -> None:
            self.last_events.append(event)
            on_event(event)

        spec = (self._actions if self._actions is not None else ACTIONS).get(name)
        if spec is None:
            last = ActionEvent(EventKind.FAILED, f"this version has no {name} action")
            seen(last)
            return last
        if "namespace" in spec.request.model_fields:
            arguments = {"namespace": self.form.namespace, **arguments}
        try:
            request = spec.request.model_validate(arguments)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            last = ActionEvent(EventKind.FAILED, request_problem(exc))
            seen(last)
            return last
        context = dataclasses.replace(self.app.action_context(),
                                      namespace=self.form.namespace)
        last = ActionEvent(EventKind.FAILED, f"{name} did not finish")
        async for event in execute(spec, context, request):
            seen(event)
            last = event
        return last

    def _start(self, worker: Worker) -> None:
        self._worker = worker

    # -- 1 repository ---------------------------------------------------------------------
    @on(Input.Submitted, "#repository-input")
    def _repository_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        step = self.steps["repository"]
        problem = form_checks.repository_problem(event.value)
        step.field.show_problem(problem)  # type: ignore[attr-defined]
        if problem is None:
            self.form.repository = event.value.strip()
            self._start(self.check_repository())

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
        self._start(self.run_preview())

    # -- 4 preview ------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_preview(self) -> None:
        step = self.preview
        self.done.discard("preview")  # enter applies only what this dry run shows
        step.apply.disabled = True
        step.text.update("")
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
            step.show_status(Text("\n".join([*outputs, *lines]), style="bold red"))
            return
        step.show_status(Text("\n".join([last.message or "dry run passed", *lines]),
                              style="green"))
        step.show_preview(last.data)
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
        self._start(self.run_apply())

    # -- 5 apply --------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_apply(self) -> None:
        step = self.apply_step
        step.bar.update(progress=0)
        step.events_log.clear()
        step.show_status("applying…")

        verdict_step: steps.VerdictStep = self.steps["verdict"]  # type: ignore[assignment]

        def show(event: ActionEvent) -> None:
            if event.kind is EventKind.PROGRESS and event.fraction is not None:
                step.bar.update(progress=event.fraction * 100)
            line = render.event_line(event)
            if line is not None:
                step.events_log.write(line)
            verdict = render.verdict_of(event.data)
            if verdict is not None:  # the rollout's verdict so far, one line per replica
                verdict_step.show_verdict(verdict)
                step.show_status(Text(verdict.summary))

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
            self._start(self.confirm_and_run(event.button.id or ""))

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

    # -- 6 readiness ----------------------------------------------------------------------
    @on(Button.Pressed, "#to-infer")
    def _to_infer(self, event: Button.Pressed) -> None:
        event.stop()
        self.done.add("verdict")
        self.show_step("infer")

    @on(Button.Pressed, "#recheck")
    def _recheck(self, event: Button.Pressed) -> None:
        event.stop()
        self._start(self.recheck())

    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def recheck(self) -> None:
        step: steps.VerdictStep = self.steps["verdict"]  # type: ignore[assignment]
        step.show_status(f"waiting for model {self.form.model} (at most {RECHECK_TIMEOUT})…")

        def show(event: ActionEvent) -> None:
            line = render.event_line(event)
            if line is not None:
                step.events_log.write(line)
            verdict = render.verdict_of(event.data)
            if verdict is not None:
                step.show_verdict(verdict)

        try:
            last = await self.run_action("wait", {
                "for": "model_ready", "name": self.form.name, "model": self.form.model,
                "timeout": RECHECK_TIMEOUT}, show)
        except asyncio.CancelledError:
            step.show_status("check cancelled", "yellow")
            raise
        step.show_status(last.message or str(last.kind),
                         "green" if last.kind is EventKind.OK else "bold red")

    # -- 7 test inference -----------------------------------------------------------------
    @on(Input.Submitted, "#infer Input")
    def _infer_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        step: steps.InferStep = self.steps["infer"]  # type: ignore[assignment]
        fields = step.fields
        problems = {"protocol": form_checks.protocol_problem(fields["protocol"].value),
                    "inputs": form_checks.inputs_problem(fields["inputs"].value),
                    "url": form_checks.url_problem(fields["url"].value)}
        for key, field in fields.items():
            field.show_problem(problems[key])
        if not any(problems.values()):
            self._start(self.run_infer())

    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_infer(self) -> None:
        step: steps.InferStep = self.steps["infer"]  # type: ignore[assignment]
        step.events_log.clear()
        step.outputs.clear()
        step.show_status(f"sending a request to {self.form.model}…")

        def show(event: ActionEvent) -> None:
            line = render.event_line(event)
            if line is not None and event.kind is not EventKind.OK:
                step.events_log.write(line)

        arguments = {"name": self.form.name, "model": self.form.model,
                     "protocol": step.fields["protocol"].value.strip().lower(),
                     "inputs": step.fields["inputs"].value.strip()}
        if step.fields["url"].value.strip():
            arguments["url"] = step.fields["url"].value.strip()
        try:
            last = await self.run_action("infer", arguments, show)
        except asyncio.CancelledError:
            step.show_status("request cancelled", "yellow")
            raise
        if last.kind is EventKind.FAILED:
            step.show_status(last.message, "bold red")
            return
        step.show_result(last.message, last.data)
        self.done.add("infer")
        step.next.focus()  # enter goes on to the load test

    @on(Button.Pressed, "#to-loadtest")
    def _to_loadtest(self, event: Button.Pressed) -> None:
        event.stop()
        tested = self.steps["infer"].fields  # type: ignore[attr-defined]
        fields = self.steps["loadtest"].fields  # type: ignore[attr-defined]
        for key in ("protocol", "url"):  # the server just tested, unless one was typed
            if not fields[key].value.strip() or key == "protocol":
                fields[key].input.value = tested[key].value
        self.show_step("loadtest")

    # -- 8 load test ----------------------------------------------------------------------
    @on(Input.Submitted, "#loadtest Input")
    def _loadtest_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        step: steps.LoadtestStep = self.steps["loadtest"]  # type: ignore[assignment]
        fields = step.fields
        levels, sweep = form_checks.parse_sweep(fields["concurrency"].value)
        problems = {"concurrency": sweep,
                    "duration": form_checks.duration_problem(fields["duration"].value),
                    "protocol": form_checks.protocol_problem(fields["protocol"].value),
                    "url": form_checks.url_problem(fields["url"].value),
                    "output": form_checks.output_problem(fields["output"].value)}
        for key, field in fields.items():
            field.show_problem(problems[key])
        if any(problems.values()):
            return
        arguments: dict[str, object] = {
            "name": self.form.name, "model": self.form.model,
            "protocol": fields["protocol"].value.strip().lower(),
            "concurrency": list(levels), "duration": fields["duration"].value.strip()}
        for key in ("url", "output"):
            if fields[key].value.strip():
                arguments[key] = fields[key].value.strip()
        self._start(self.run_loadtest(arguments))

    @work(exclusive=True, exit_on_error=False, group="deploy")
    async def run_loadtest(self, arguments: dict[str, object]) -> None:
        step: steps.LoadtestStep = self.steps["loadtest"]  # type: ignore[assignment]
        step.bar.update(progress=0)
        step.show_status("load test running…")

        def show(event: ActionEvent) -> None:
            if event.kind is EventKind.PROGRESS:
                if event.fraction is not None:
                    step.bar.update(progress=event.fraction * 100)
                if event.message:
                    step.show_status(event.message)
            elif event.kind is EventKind.WARNING and event.message:
                step.show_status(event.message, "yellow")

        try:
            last = await self.run_action("loadtest", arguments, show)
        except asyncio.CancelledError:
            step.show_status("load test cancelled", "yellow")
            raise
        if last.kind is EventKind.FAILED:
            step.show_status(last.message, "bold red")
            return
        step.bar.update(progress=100)
        step.show_status(last.message or "load test done", "green")
        step.show_results(last.data)
        self.done.add("loadtest")


def _models_in(data: object) -> tuple[str, ...]:
    """Model names a check_repository result lists (``models``: names or objects)."""
    models = render.field_of(data, "models") or ()
    # "resnet (onnxruntime, versions 1, 2)": the name is the first word
    names = [m.split(" (", 1)[0].strip() if isinstance(m, str) else
             render.field_of(m, "name", "")
             for m in (models if isinstance(models, list | tuple) else ())]
    return tuple(str(n) for n in names if n)


def request_problem(exc: Exception) -> str:
    """One line per field a request model refused (``replicas: Input should be …``)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}".lstrip(": ")
            for e in errors())
    return str(exc)
