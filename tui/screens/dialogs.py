"""Small modal dialogs: confirm, a number (scale), a choice (container)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; height: auto; border: thick $accent; padding: 1 2;
    background: $surface; }}
{name} Horizontal {{ height: auto; align: center middle; margin-top: 1; }}
{name} Button {{ margin: 0 2; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = _CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ScaleScreen(ModalScreen[int | None]):
    DEFAULT_CSS = _CSS.format(name="ScaleScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, current: int) -> None:
        super().__init__()
        self.what, self.current = what, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Scale {self.what} (now {self.current}) to:")
            yield Input(str(self.current), type="integer", id="replicas")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            value = int(event.value)
        except ValueError:
            self.notify("replicas must be a whole number", severity="error")
            return
        if value < 0:
            self.notify("replicas must be 0 or more", severity="error")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    DEFAULT_CSS = _CSS.format(name="ChoiceScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, choices: list[str]) -> None:
        super().__init__()
        self.prompt, self.choices = prompt, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield OptionList(*self.choices)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
