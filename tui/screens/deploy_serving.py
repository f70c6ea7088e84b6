"""The deploy wizard's last steps, on a deployed model server: readiness again, a test
request, a load test (a concurrency sweep, its table and plot)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.widgets import Button, Input

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.tui.screens import deploy_form as form_checks
from mlops_tui.tui.screens import deploy_render as render
from mlops_tui.tui.screens import serving_steps as steps
from mlops_tui.tui.screens.deploy_form import DeployForm
from mlops_tui.tui.screens.wizard import WizardScreen

RECHECK_TIMEOUT = "60s"


class ServingSteps(WizardScreen):
    """Readiness, test inference and load test of ``form``'s deployment and model."""

    form: DeployForm

    # -- 6 readiness ----------------------------------------------------------------------
    @on(Button.Pressed, "#to-infer")
    def _to_infer(self, event: Button.Pressed) -> None:
        event.stop()
        self.done.add("verdict")
        self.show_step("infer")

    @on(Button.Pressed, "#recheck")
    def _recheck(self, event: Button.Pressed) -> None:
        event.stop()
        self.start(self.recheck())

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
            self.start(self.run_infer())

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
        self.start(self.run_loadtest(arguments))

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


