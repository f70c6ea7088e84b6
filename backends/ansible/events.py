"""ansible-runner's event dicts as :class:`PlaybookEvent` s: pure, tested on recorded events.

Runner emits one dict per Ansible callback (``event``: ``playbook_on_task_start``,
``runner_on_ok``, ``runner_on_failed``, ``runner_on_unreachable``, ``playbook_on_stats`` …,
with ``event_data``: ``task``, ``host``, ``res``). Only what a step list and a log pane need
is kept; every message is one line, bounded, free of ANSI codes and control characters
(text from a host is never trusted to be printable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["task", "ok", "changed", "failed", "skipped", "unreachable", "output",
                    "stats"]

#: the longest message an event carries (a failure's stderr tail, a warning)
MAX_MESSAGE = 500
#: how many trailing lines of a failed command's stderr (or stdout) the message keeps
TAIL_LINES = 3

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_STAT_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
              "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


@dataclass(frozen=True, slots=True)
class PlaybookResult:
    """How a playbook run ended.

    ``stats`` per host: ok, changed, failed, unreachable, skipped (Ansible's recap);
    ``status``: ansible-runner's ("successful", "failed", "canceled", "timeout");
    ``error``: why it failed, one line ("" when it did not).
    """

    rc: int
    status: str
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str = ""

    @property
    def changed(self) -> int:
        return sum(counts.get("changed", 0) for counts in self.stats.values())

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        return tuple(host for host, counts in self.stats.items()
                     if counts.get("failed", 0) or counts.get("unreachable", 0))

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.status == "successful" and not self.failed_hosts


@dataclass(frozen=True, slots=True)
class PlaybookEvent:
    """One thing worth showing from a run.

    ``task`` events open a task (``fraction``: tasks started / tasks listed, when known);
    ``ok`` / ``changed`` / ``failed`` / ``skipped`` / ``unreachable`` are one host's result
    of it; ``output`` is a line worth a log pane (a loop item, a warning, an ignored error);
    ``stats`` is the run's end: ``data`` is the :class:`PlaybookResult` (the last event of
    :func:`~.runner.run_playbook`).
    """

    kind: EventKind
    host: str = ""
    task: str = ""
    message: str = ""
    data: Any = None
    fraction: float | None = None

    @property
    def result(self) -> PlaybookResult | None:
        return self.data if isinstance(self.data, PlaybookResult) else None

    def line(self) -> str:
        """The event as one log line: "changed: [h1] install k3s: msg"."""
        where = f" [{self.host}]" if self.host else ""
        what = f" {self.task}" if self.task else ""
        text = f": {self.message}" if self.message else ""
        if self.kind == "task":
            return f"TASK {self.task}"
        if self.kind == "stats":
            return f"PLAY RECAP: {self.message}"
        return f"{self.kind}:{where}{what}{text}"


def clean(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line: ANSI codes and control characters removed, lines
    joined with " | ", blanks collapsed, at most ``limit`` characters."""
    raw = _ANSI.sub("", str(text))
    lines = [" ".join(_CONTROL.sub(" ", part).split()) for part in raw.splitlines()]
    flat = " | ".join(part for part in lines if part)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tail(text: object) -> str:
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    return "\n".join(lines[-TAIL_LINES:])


def failure_message(res: dict[str, Any]) -> str:
    """Why a task failed, from its result: the module's ``msg`` and the tail of stderr (or
    of stdout when stderr is empty), the first failed item's for a loop.

    Args:
        res: ``event_data.res`` of a ``runner_on_failed`` / ``runner_on_unreachable``.

    Returns:
        One bounded line; the censored notice for a ``no_log`` task.
    """
    if "censored" in res:
        return clean(res["censored"])
    items = res.get("results")
    if isinstance(items, list):
        failed = next((item for item in items if isinstance(item, dict) and item.get("failed")),
                      None)
        if failed is not None:
            label = failed.get("_ansible_item_label", failed.get("item", ""))
            inner = failure_message(failed)
            return clean(f"item {clean(label, 60)}: {inner}") if label != "" else inner
    parts = [str(res.get("msg") or "").strip()]
    if res.get("rc") not in (None, 0) and "return code" in parts[0]:
        parts[0] = f"{parts[0]} ({res['rc']})"
    output = _tail(res.get("stderr")) or _tail(res.get("stdout"))
    if output and output not in parts[0]:
        parts.append(output)
    text = " | ".join(part for part in parts if part)
    return clean(text or "failed (no message)")


def _ok_message(res: dict[str, Any], action: str) -> str:
    if "censored" in res:
        return ""
    if action.endswith("debug") and "msg" in res:
        return clean(res["msg"])
    return clean(res.get("msg", "")) if isinstance(res.get("msg"), str) else ""


def _stats(event_data: dict[str, Any]) -> dict[str, dict[str, int]]:
    hosts: set[str] = set()
    for key in (*_STAT_KEYS, "processed"):
        hosts.update((event_data.get(key) or {}).keys())
    return {host: {name: int((event_data.get(key) or {}).get(host, 0))
                   for key, name in _STAT_KEYS.items()}
            for host in sorted(hosts)}


def to_event(raw: dict[str, Any]) -> PlaybookEvent | None:
    """Map one runner event dict, or ``None`` for one not worth showing.

    Args:
        raw: what runner passes to ``event_handler``.

    Returns:
        The event; ``stats`` carries the per-host recap dict as ``data`` (the runner turns
        it into the final :class:`PlaybookResult`).
    """
    kind = raw.get("event", "")
    data = raw.get("event_data") or {}
    host = clean(data.get("host", ""), 100)
    task = clean(data.get("task", ""), 200)
    res = data.get("res") if isinstance(data.get("res"), dict) else {}
    action = str(data.get("resolved_action") or data.get("task_action") or "")
    if kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
        return PlaybookEvent("task", task=task, message=task)
    if kind == "runner_on_ok":
        facts = res.get("ansible_facts") if isinstance(res.get("ansible_facts"), dict) else None
        # a no_log result is censored down to one key: the display line still says changed
        changed = res.get("changed") if "changed" in res else str(
            raw.get("stdout", "")).lstrip().startswith("changed:")
        return PlaybookEvent("changed" if changed else "ok", host, task,
                             _ok_message(res, action),
                             data={"facts": facts} if facts else None)
    if kind == "runner_on_failed":
        message = failure_message(res)
        if data.get("ignore_errors"):
            return PlaybookEvent("output", host, task, f"failed (ignored): {message}")
        return PlaybookEvent("failed", host, task, message, data={"rc": res.get("rc")})
    if kind == "runner_on_skipped":
        return PlaybookEvent("skipped", host, task, clean(res.get("skip_reason", "")))
    if kind == "runner_on_unreachable":
        return PlaybookEvent("unreachable", host, task, failure_message(res))
    if kind in ("runner_item_on_ok", "runner_item_on_failed", "runner_item_on_skipped"):
        label = res.get("_ansible_item_label", res.get("item", ""))
        state = {"runner_item_on_ok": "changed" if res.get("changed") else "ok",
                 "runner_item_on_failed": "failed",
                 "runner_item_on_skipped": "skipped"}[kind]
        detail = f": {failure_message(res)}" if kind == "runner_item_on_failed" else ""
        text = clean(f"item {clean(label, 80)} {state}{detail}")
        return PlaybookEvent("output", host, task, text)
    if kind == "runner_retry":
        return PlaybookEvent("output", host, task, clean(
            f"retrying ({data.get('retries_left', '?')} left): {failure_message(res)}"))
    if kind in ("warning", "deprecated", "error", "verbose", "playbook_on_no_hosts_matched"):
        text = clean(raw.get("stdout", ""))
        if kind == "playbook_on_no_hosts_matched":
            text = "no hosts matched"
        return PlaybookEvent("output", message=text) if text else None
    if kind == "playbook_on_stats":
        return PlaybookEvent("stats", data=_stats(data))
    return None
