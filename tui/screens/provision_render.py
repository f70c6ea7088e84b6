"""What the provision screen shows, made from action events and their data: pure, plain.

The ``provision`` and ``destroy`` actions stream each provisioner step event as an action
event whose ``data`` names the step (a dict with ``step``, ``status``, ``host``, or a
:class:`StepEvent`) and whose ``fraction`` is of the whole run; ``preflight`` ends with the
host reports (``hosts``), ``provision`` with ``plan_only`` with the plan (``plan``).
Everything is read leniently (a field an action leaves out shows as a dash), and every
text a server or a user wrote goes through :func:`printable` into :class:`rich.text.Text`,
never markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.provisioning.contract import StepStatus
from mlops_tui.tui.screens.deploy_render import field_of, printable

CHECK_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}
_STEP_STATUSES = frozenset(s.value for s in StepStatus)
_LOG_STYLES = {"warning": "yellow", "failed": "bold red", "changed": "yellow",
               "ok": "green", "skipped": "dim", "started": "cyan"}
MAX_LINE = 500  # characters of one log line (an Ansible result can be a page)


def one_line(text: object, limit: int = MAX_LINE) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    line = printable(" ".join(str(text).split()))
    return line if len(line) <= limit else line[:limit - 1] + "…"


@dataclass(frozen=True)
class StepUpdate:
    """One provisioner step event, as carried by an action event."""

    step: str
    status: str  # a StepStatus value
    message: str = ""
    host: str = ""
    fraction: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in ("ok", "changed", "failed", "skipped")


def _own_message(message: str, step: str, status: str) -> str:
    """The step's own words in an action message ``"STEP: [STATUS: ]message"`` (the
    action says which step for a reader of its plain lines; the step list says it too)."""
    for prefix in (f"{step}: ", f"{status}: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return "" if message == status else message


def step_update(event: ActionEvent) -> StepUpdate | None:
    """The step event inside ``event`` (its data, or the data's ``event``), or None."""
    for candidate in (event.data, field_of(event.data, "event")):
        step, status = field_of(candidate, "step"), field_of(candidate, "status")
        if isinstance(step, str) and step and str(status) in _STEP_STATUSES:
            message = field_of(candidate, "message")
            if not isinstance(message, str):
                message = _own_message(event.message or "", step, str(status))
            fraction = field_of(candidate, "fraction")
            return StepUpdate(step, str(status), message,
                              str(field_of(candidate, "host", "") or ""),
                              fraction if isinstance(fraction, int | float) else None)
    return None


def log_line(event: ActionEvent, update: StepUpdate | None) -> Text | None:
    """One line of the live log for ``event`` (None: nothing worth a line)."""
    message = update.message if update is not None else event.message
    if not message:
        return None
    status = update.status if update is not None else event.kind.value
    text = Text()
    if update is not None:
        text.append(f"{one_line(update.step, 40)}: ", style="bold")
        if update.host:
            text.append(f"{one_line(update.host, 60)}: ", style="cyan")
    text.append(one_line(message), style=_LOG_STYLES.get(status, ""))
    return text


@dataclass(frozen=True)
class PlanRow:
    id: str
    title: str
    detail: str = ""
    hosts: tuple[str, ...] = ()
    destroys: bool = False


def _items(data: Any, keys: Iterable[str]) -> list[Any]:
    for candidate in (data, *(field_of(data, key) for key in keys)):
        if isinstance(candidate, list | tuple):
            return list(candidate)
    return []


def plan_rows(data: Any) -> list[PlanRow]:
    """The plan's steps in a ``plan_only`` result (a list, or under plan / steps)."""
    rows = []
    for item in _items(data, ("plan", "steps")):
        step_id = field_of(item, "id")
        if not isinstance(step_id, str) or not step_id:
            continue
        hosts = field_of(item, "hosts") or ()
        rows.append(PlanRow(one_line(step_id, 60),
                            one_line(field_of(item, "title", "") or step_id, 120),
                            printable(str(field_of(item, "detail", "") or "")),
                            tuple(one_line(h, 60) for h in hosts
                                  if isinstance(hosts, list | tuple)),
                            bool(field_of(item, "destroys", False))))
    return rows


def plan_text(rows: list[PlanRow]) -> list[Text]:
    """The plan as lines: a numbered title per step, its detail and hosts under it."""
    if not rows:
        return [Text("the action returned no steps", style="yellow")]
    lines: list[Text] = []
    for number, row in enumerate(rows, 1):
        line = Text(f"{number:>2}. ", style="dim")
        line.append(row.title, style="bold red" if row.destroys else "bold")
        line.append(f"  ({row.id})", style="dim")
        lines.append(line)
        for detail in row.detail.splitlines():
            lines.append(Text(f"      {detail}"))
        if row.hosts:
            lines.append(Text(f"      on {', '.join(row.hosts)}", style="cyan"))
    return lines


@dataclass(frozen=True)
class CheckCell:
    name: str
    status: str  # ok | warn | fail
    value: str
    fix: str


@dataclass(frozen=True)
class HostChecks:
    host: str
    checks: tuple[CheckCell, ...]

    def check(self, name: str) -> CheckCell | None:
        return next((c for c in self.checks if c.name == name), None)


def preflight_hosts(data: Any) -> list[HostChecks]:
    """The host reports of a preflight result (a list, or under hosts / reports)."""
    reports = []
    for report in _items(data, ("hosts", "reports")):
        checks = tuple(
            CheckCell(one_line(field_of(c, "name", "") or "?", 40),
                      str(field_of(c, "status", "") or "?"),
                      one_line(field_of(c, "value", "") or "", 80),
                      printable(str(field_of(c, "fix", "") or "")))
            for c in (field_of(report, "checks") or ()))
        reports.append(HostChecks(one_line(field_of(report, "host", "") or "?", 60), checks))
    return reports


def check_names(hosts: list[HostChecks]) -> list[str]:
    """Every check any host has, in the order first seen (the table's columns)."""
    names: list[str] = []
    for host in hosts:
        names.extend(c.name for c in host.checks if c.name not in names)
    return names


def check_text(cell: CheckCell | None) -> Text:
    """A table cell: the value, coloured by the check's status."""
    if cell is None:
        return Text("-", style="dim")
    marker = {"ok": "✓ ", "warn": "! ", "fail": "✗ "}.get(cell.status, "")
    return Text(marker + (cell.value or cell.status), style=CHECK_STYLES.get(cell.status, ""))


def check_detail(host: str, cell: CheckCell | None) -> Text:
    """Under the table: the selected cell's check, and what to do when it is not ok."""
    if cell is None:
        return Text("")
    text = Text(f"{host} · {cell.name}: ", style="bold")
    text.append(cell.value or cell.status, style=CHECK_STYLES.get(cell.status, ""))
    if cell.status != "ok" and cell.fix:
        text.append("\nfix: ", style="bold")
        text.append(cell.fix)
    return text


def preflight_summary(hosts: list[HostChecks]) -> tuple[int, int]:
    """(failed checks, warnings) over every host."""
    cells = [c for host in hosts for c in host.checks]
    return (sum(c.status == "fail" for c in cells), sum(c.status == "warn" for c in cells))


def context_of(event: ActionEvent) -> str:
    """The kubeconfig context a finished provision merged ("" when it says none)."""
    context = field_of(event.data, "context")
    return one_line(context, 120) if isinstance(context, str) and event.kind is (
        EventKind.OK) else ""
