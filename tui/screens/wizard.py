"""A screen of steps, one shown at a time, whose long steps run actions in a worker.

The step bar shows where the user is and what is done; ``esc`` cancels what runs or goes
back one step (every widget keeps what was typed), ``ctrl+c`` cancels what runs (the app
lets it: see ``MlopsApp.check_action``). Actions run by name from the action table (or the
table a test hands in) in :attr:`WizardScreen.action_namespace`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static
from textual.worker import Worker, WorkerState

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.tui.action_runner import stream_action
from mlops_tui.tui.crash import report_failed_worker

if TYPE_CHECKING:
    from mlops_tui.tui.screens.deploy_steps import Step

OnEvent = Callable[[ActionEvent], None]


class WizardScreen(Screen[None]):
    """Steps in order; ``actions`` replaces the action table (tests hand in their own)."""

    DEFAULT_CSS = """
    WizardScreen > #wizard-title { height: 1; background: $accent; color: $text;
        padding: 0 1; text-style: bold; }
    WizardScreen > #wizard-steps { height: 1; padding: 0 1; }
    WizardScreen > ContentSwitcher { height: 1fr; }
    WizardScreen > #wizard-hints { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back / cancel"),
        Binding("ctrl+c", "cancel", "Cancel", priority=True, show=False),
    ]

    def __init__(self, title: str, step_list: list[Step], *,
                 actions: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self._actions = actions
        self._worker: Worker | None = None
        # held, not queried: keys may reach the screen before its children are mounted
        self.steps = {step.key: step for step in step_list}
        self.order = list(self.steps)
        self.done: set[str] = set()
        self.last_events: list[ActionEvent] = []  # of the newest action run (for tests)
        self._switcher = ContentSwitcher(*step_list, initial=self.order[0])
        self._bar = Static("", id="wizard-steps")
        self._hints = Static("", id="wizard-hints")

    def compose(self) -> ComposeResult:
        yield Static(Content(self.title_text), id="wizard-title")
        yield self._bar
        yield self._switcher
        yield self._hints

    @property
    def action_namespace(self) -> str:
        """The namespace actions run in (the session's unless a subclass says)."""
        return self.app.action_context().namespace

    @property
    def current(self) -> str:
        return self._switcher.current or self.order[0]

    @property
    def busy(self) -> bool:
        """Whether a step's action is running (ctrl+c then cancels it, not the app)."""
        worker = self._worker
        # a worker cancelled before its task first ran stays RUNNING in Textual 8: the
        # cancel itself is what ends it here
        return worker is not None and not worker.is_cancelled and worker.state in (
            WorkerState.PENDING, WorkerState.RUNNING)

    def show_step(self, key: str) -> None:
        """Show step ``key`` (its widgets keep what they hold), the bar and its keys."""
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
        self._hints.update(Text(self.steps[key].hints))
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
            # said here too: a step cancelled before it started never says it itself
            self.steps[self.current].show_status("cancelled", "yellow")
            self._worker.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.busy if action == "cancel" else True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    # -- running actions ------------------------------------------------------------------
    async def run_action(self, name: str, arguments: dict[str, object],
                         on_event: OnEvent) -> ActionEvent:
        """Run action ``name`` in :attr:`action_namespace`.

        Args:
            arguments: the request (``namespace`` is added when the request has one).
            on_event: called with every event, the terminal one included.

        Returns:
            The terminal event. A request the action refuses is a failed event naming the
            field; a name the table lacks is a failed event too. Never raises but for
            cancellation.
        """
        from mlops_tui.backends.actions import ACTIONS

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
            arguments = {"namespace": self.action_namespace, **arguments}
        context = dataclasses.replace(self.app.action_context(),
                                      namespace=self.action_namespace)
        return await stream_action(spec, arguments, context, seen)

    def start(self, worker: Worker) -> None:
        """Remember ``worker`` as the running step (esc and ctrl+c cancel it)."""
        self._worker = worker
