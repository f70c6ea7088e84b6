"""Small modal dialogs: confirm, a number (scale), a choice (container).

Every text shown is plain (:class:`~textual.content.Content`): questions and choices name
objects and containers, which come from a server and must never be read as markup.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList

from mlops_tui.backends.actions.operate import MAX_REPLICAS

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; height: auto; border: thick $accent; padding: 1 2;
    background: $surface; }}
{name} Horizontal {{ height: auto; align: center middle; margin-top: 1; }}
{name} Button {{ margin: 0 2; }}
{name} #problem {{ color: $error; height: auto; }}
"""


_Result = TypeVar("_Result")


class Dialog(ModalScreen[_Result], Generic[_Result]):
    """A modal that answers once: keys typed fast can answer again (``n`` then enter)
    before the screen is gone, and a second dismiss of one screen raises in Textual."""

    _answered = False

    def answer_once(self, result: _Result) -> None:
        if not self._answered:
            self._answered = True
            self.dismiss(result)


class ConfirmScreen(Dialog[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    # focus by selector when shown, not with a query in on_mount: a quick "n" can dismiss
    # the dialog before it is mounted, and the query would then find nothing (a crash)
    AUTO_FOCUS = "#no"
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.question))
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")


    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.answer_once(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.answer_once(answer)


def replicas_problem(text: str) -> str | None:
    """Why ``text`` is not a replica count the scale action takes, or None when it is.

    Checked on the text before any ``int()``: a string of thousands of digits must be
    refused as "too many", not converted (or rejected by Python's digit limit).
    """
    text = text.strip()
    if not text:
        return "type a number of replicas"
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(text) - len(digits) > 1:
        return f"replicas must be a whole number, not {text!r}"[:120]
    if text.startswith("-"):
        return "replicas must be 0 or more"
    if len(digits.lstrip("0")) > len(str(MAX_REPLICAS)) or int(digits) > MAX_REPLICAS:
        return f"replicas must be at most {MAX_REPLICAS:,}"
    return None


class ScaleScreen(Dialog[int | None]):
    """Asks for a replica count in 0..MAX_REPLICAS (the scale action's own bound); a bad
    one is explained under the field and nothing is sent."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ScaleScreen")
    AUTO_FOCUS = "#replicas"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, current: int) -> None:
        super().__init__()
        self.what, self.current = what, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(f"Scale {self.what} (now {self.current}) to:"))
            yield Input(str(self.current), type="integer", id="replicas")
            yield Label("", id="problem")

    @property
    def problem(self) -> str:
        """The message under the field ("" when none)."""
        return str(self.query_one("#problem", Label).render())


    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = replicas_problem(event.value)
        if problem is not None:
            self.query_one("#problem", Label).update(Content(problem))
            return
        self.answer_once(int(event.value))

    def action_cancel(self) -> None:
        self.answer_once(None)


class ChoiceScreen(Dialog[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceScreen")
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, choices: list[str]) -> None:
        super().__init__()
        self.prompt, self.choices = prompt, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.prompt))
            yield OptionList(*(Content(choice) for choice in self.choices), markup=False)


    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.answer_once(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.answer_once(None)
