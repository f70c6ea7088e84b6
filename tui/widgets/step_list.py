"""A list of named steps, each with a status icon (· ⟳ ✓ ✗ ⤼) and its last message.

The provision screen's apply page: the plan's steps are set first, then each step event
marks one. A step no plan named (destroy's, a plugin's) is added at the end when first
marked. Text is plain (:class:`rich.text.Text`): messages come from hosts and servers.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from mlops_tui.tui.screens.deploy_render import printable

ICONS = {"pending": ("·", "dim"), "running": ("⟳", "cyan"), "ok": ("✓", "green"),
         "changed": ("✓", "yellow"), "failed": ("✗", "bold red"), "skipped": ("⤼", "dim"),
         "interrupted": ("✗", "yellow")}
DONE = frozenset({"ok", "changed", "skipped"})
FINISHED = DONE | {"failed", "interrupted"}
MAX_MESSAGE = 160


@dataclass
class _Row:
    title: str
    state: str = "pending"
    message: str = ""


class StepList(Static):
    """Steps in order with their state; ``mark`` moves one on."""

    DEFAULT_CSS = """
    StepList { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__("", id=id)
        self._rows: dict[str, _Row] = {}

    def set_steps(self, steps: list[tuple[str, str]]) -> None:
        """Show ``(id, title)`` steps, all pending."""
        self._rows = {step_id: _Row(title) for step_id, title in steps}
        self._show()

    def mark(self, step: str, state: str, message: str = "", *, title: str = "") -> None:
        """Set ``step``'s state (one of :data:`ICONS`) and, when given, its message.

        A finished step is not moved back to running by a late line about it. A step not
        listed yet is added, titled ``title`` (or its id).
        """
        row = self._rows.setdefault(step, _Row(printable(title[:80]) if title else step))
        if not (state == "running" and row.state in FINISHED):
            row.state = state
        if message:
            line = printable(" ".join(message.split()))
            row.message = line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"
        self._show()

    def interrupt(self) -> None:
        """Mark the running step interrupted (a cancelled apply)."""
        for row in self._rows.values():
            if row.state == "running":
                row.state = "interrupted"
        self._show()

    @property
    def states(self) -> dict[str, str]:
        return {step: row.state for step, row in self._rows.items()}

    def fraction(self, running_fraction: float = 0.0) -> float:
        """How far the whole list is: finished steps plus part of the running one."""
        if not self._rows:
            return 0.0
        finished = sum(row.state in FINISHED for row in self._rows.values())
        running = any(row.state == "running" for row in self._rows.values())
        return min(1.0, (finished + (running_fraction if running else 0.0)) / len(self._rows))

    @property
    def plain(self) -> str:
        return self.text().plain

    def text(self) -> Text:
        text = Text()
        for index, row in enumerate(self._rows.values()):
            if index:
                text.append("\n")
            icon, style = ICONS.get(row.state, ("?", ""))
            text.append(f"{icon} ", style=style)
            text.append(row.title, style="bold" if row.state == "running" else "")
            if row.state in ("changed", "skipped", "interrupted"):
                text.append(f" ({row.state})", style=style)
            if row.message:
                text.append(f"  {row.message}", style="dim" if row.state in DONE else "")
        return text

    def _show(self) -> None:
        self.update(self.text())
