"""The deploy wizard's steps: one container each, holding its widgets and showing results.

Attributes down, messages up: the screen sets what a step shows (``show_…`` methods) and
runs the actions; a step never runs one. Widgets are made in ``__init__`` and held, so a
key that reaches the screen before a step is mounted finds them. Every text shown is a
:class:`~rich.text.Text` or :class:`~textual.content.Content` (plain), never markup.
"""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import (
    Button,
    Input,
    Label,
    OptionList,
    ProgressBar,
    RichLog,
    Static,
)
from textual.widgets.option_list import Option

from mlops_tui.tui.screens import deploy_render as render
from mlops_tui.tui.widgets.text_lines import TextLines

RUNTIMES = (("triton", "Triton Inference Server: a Deployment and a Service"),
            ("kserve", "KServe: an InferenceService"))


class Field(Vertical):
    """A labelled input with its problem (one line, red) under it."""

    DEFAULT_CSS = """
    Field { height: auto; }
    Field > Horizontal { height: auto; }
    Field Label { width: 16; padding: 0 1 0 0; }
    Field Input { width: 1fr; }
    Field > .problem { color: $error; height: auto; padding-left: 16; }
    Field { margin-bottom: 1; }
    """

    def __init__(self, key: str, label: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(id=f"field-{key}")
        self.key = key
        self.label = label
        self.input = Input(value, placeholder=placeholder, id=f"{key}-input", compact=True)
        self.problem = Static("", classes="problem")

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(Content(self.label))
            yield self.input
        yield self.problem

    @property
    def value(self) -> str:
        return self.input.value

    def show_problem(self, problem: str | None) -> None:
        self.problem.update(Content(problem or ""))

    @property
    def problem_text(self) -> str:
        return str(self.problem.render())


class Step(Vertical):
    """A page of the wizard: ``key`` is its id in the switcher."""

    DEFAULT_CSS = """
    Step { height: 1fr; padding: 0 1; }
    Step .status { height: auto; margin: 1 0 0 0; }
    Step .problems { height: auto; }
    Step .note { color: $text-muted; height: auto; }
    Step > Horizontal { height: auto; margin-top: 1; }
    Step Button { margin-right: 2; }
    Step RichLog { height: 1fr; min-height: 4; border: round $panel-lighten-2; }
    """
    key = ""
    title = ""
    hints = ""  # the keys line under the step

    def __init__(self) -> None:
        super().__init__(id=self.key)
        self.status = Static("", classes="status")

    def show_status(self, text: str | render.Text, style: str = "") -> None:
        """One or more lines over the step (an action's message: plain, controls shown)."""
        if isinstance(text, str):
            text = render.Text(render.printable(text), style=style)
        self.status.update(text)

    @property
    def status_text(self) -> str:
        return str(self.status.render())

    @property
    def first(self) -> Widget:
        """What takes the focus when the step is shown."""
        raise NotImplementedError


class RepositoryStep(Step):
    key, title = "repository", "Repository"
    hints = "enter check · esc close"

    def __init__(self) -> None:
        super().__init__()
        self.field = Field("repository", "Repository",
                           placeholder="./model_repository, pvc://CLAIM/PATH, s3://BUCKET/PATH")
        self.problems = Static("", classes="problems")

    def compose(self) -> ComposeResult:
        yield Label("Where the Triton model repository is; it is checked on enter.")
        yield self.field
        yield self.status
        yield self.problems

    @property
    def first(self) -> Widget:
        return self.field.input

    def show_problems(self, lines: list[str]) -> None:
        """One problem per line, red."""
        self.problems.update(render.Text(render.printable("\n".join(lines)), style="red"))

    def show_notes(self, lines: list[str]) -> None:
        """What a passing check told (models found, warnings), plain."""
        self.problems.update(render.Text(render.printable("\n".join(lines))))


class ChoiceStep(Step):
    """A step that is one list to choose from: ``question`` above it, ``list_id`` its id."""

    question = ""
    list_id = ""

    def __init__(self) -> None:
        super().__init__()
        self.choices = OptionList(id=self.list_id, markup=False)

    def compose(self) -> ComposeResult:
        yield Label(self.question)
        yield self.choices
        yield self.status

    @property
    def first(self) -> Widget:
        return self.choices


class RuntimeStep(ChoiceStep):
    key, title = "runtime", "Runtime"
    hints = "↑↓ choose · enter next · esc back"
    question, list_id = "How the model is served (enter chooses):", "runtime-list"

    def offer(self, unavailable: dict[str, str]) -> None:
        """List the runtimes; one in ``unavailable`` (runtime → reason) is disabled."""
        self.choices.clear_options()
        for key, summary in RUNTIMES:
            reason = unavailable.get(key)
            prompt = f"{key:<8} {summary}" + (f"  (unavailable: {reason})" if reason else "")
            self.choices.add_option(Option(Content(prompt), id=key, disabled=bool(reason)))
        self.choices.highlighted = 0


class SettingsStep(Step):
    key, title = "settings", "Settings"
    hints = "tab next field · enter preview · esc back"
    FIELDS = (("replicas", "Replicas"), ("gpus", "GPUs per pod"), ("namespace", "Namespace"),
              ("name", "Name"), ("image", "Image"), ("model", "Model"))

    def __init__(self) -> None:
        super().__init__()
        self.fields = {key: Field(key, label) for key, label in self.FIELDS}

    def compose(self) -> ComposeResult:
        yield Label("Enter in any field checks them all and runs the preview.")
        yield from self.fields.values()
        yield self.status

    @property
    def first(self) -> Widget:
        bad = next((f for f in self.fields.values() if f.problem_text), None)
        return (bad or self.fields["replicas"]).input

    def show_problems(self, problems: dict[str, str]) -> None:
        for key, field in self.fields.items():
            field.show_problem(problems.get(key))


class PreviewStep(Step):
    key, title = "preview", "Preview"
    hints = "↑↓ scroll · d diff · y YAML · enter apply · esc back"
    BINDINGS = [Binding("enter", "screen.apply_preview", "Apply"),
                Binding("d", "to_diff", "Diff"), Binding("y", "to_yaml", "YAML")]
    diff_line = 0  # where the diff starts in the text

    def __init__(self) -> None:
        super().__init__()
        self.lines = TextLines(id="preview-text")
        self.apply = Button("Apply (enter)", variant="warning", id="apply")
        self.note = Static("", classes="note")

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.lines
        with Horizontal():
            yield self.apply
            yield self.note

    DEFAULT_CSS = """
    PreviewStep #preview-text { height: 1fr; border: round $panel-lighten-2; }
    """

    @property
    def first(self) -> Widget:
        return self.lines  # arrows scroll; enter applies (the step's binding)

    async def show_preview(self, data: object) -> None:
        """Show a dry run's data; the YAML is made in a thread (a big repository's
        ConfigMap is thousands of lines), the lines drawn as they scroll into view."""
        text, self.diff_line = await asyncio.to_thread(render.preview_text, data)
        self.lines.set_lines(text.split("\n"))

    def clear(self) -> None:
        self.lines.set_lines([])

    def action_to_diff(self) -> None:
        self.lines.scroll_to(y=self.diff_line, animate=False)

    def action_to_yaml(self) -> None:
        self.lines.scroll_home(animate=False)


class ApplyStep(Step):
    key, title = "apply", "Apply"
    hints = "enter readiness · esc cancel / back"

    def __init__(self) -> None:
        super().__init__()
        self.bar = ProgressBar(total=100, show_eta=False, id="rollout")
        self.events_log = RichLog(markup=False, wrap=True, id="apply-log")
        self.next = Button("Readiness (enter)", id="to-verdict")
        self.rollback = Button("Rollback", id="rollback")
        self.undeploy = Button("Undeploy", variant="error", id="undeploy")
        self.note = Static("", classes="note")

    def compose(self) -> ComposeResult:
        yield Label("Rollout")
        yield self.bar
        yield self.status
        yield self.events_log
        with Horizontal():
            yield self.next
            yield self.rollback
            yield self.undeploy
        yield self.note

    @property
    def first(self) -> Widget:
        return self.next


DEPLOY_STEPS: tuple[type[Step], ...] = (RepositoryStep, RuntimeStep, SettingsStep,
                                         PreviewStep, ApplyStep)
