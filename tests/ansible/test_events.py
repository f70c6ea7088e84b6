"""The runner-event mapping, on events RECORDED from real runs (record_events.py: sample.yml
over SSH to a real sshd, and once against a closed port)."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_tui.backends.ansible.events import (
    MAX_MESSAGE,
    PlaybookEvent,
    PlaybookResult,
    clean,
    failure_message,
    to_event,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _mapped(name: str) -> list[PlaybookEvent]:
    raw = json.loads((FIXTURES / name).read_text())
    return [event for event in map(to_event, raw) if event is not None]


def test_a_run_maps_to_tasks_results_and_stats() -> None:
    events = _mapped("events_sample.json")
    tasks = [e.task for e in events if e.kind == "task"]
    assert tasks == ["Gathering Facts", "Say hello", "Change something", "Loop", "Skip me",
                     "Fail but ignored", "Secret output", "Fail for real"]
    by_task = {(e.task, e.kind): e for e in events if e.kind != "task"}
    assert by_task[("Say hello", "ok")].message.startswith("hello from ")
    assert ("Change something", "changed") in by_task
    assert ("Skip me", "skipped") in by_task
    items = [e.message for e in events if e.kind == "output" and e.task == "Loop"]
    assert items == ["item a ok", "item b ok"]
    ignored = by_task[("Fail but ignored", "output")]
    assert ignored.message.startswith("failed (ignored): non-zero return code (1)")
    assert all(e.host == "h1" for e in events if e.kind not in ("task", "stats"))


def test_facts_come_with_the_gathering_result() -> None:
    facts = next(e for e in _mapped("events_sample.json")
                 if e.kind == "ok" and e.task == "Gathering Facts")
    assert facts.data["facts"]["ansible_system"] == "Linux"


def test_a_failed_task_says_the_module_message_and_the_stderr_tail() -> None:
    failed = [e for e in _mapped("events_sample.json") if e.kind == "failed"]
    assert len(failed) == 1
    assert failed[0].task == "Fail for real"
    # the ANSI colour codes the command printed are gone, the text stays
    assert failed[0].message == "non-zero return code (3) | bad thing happened"
    assert failed[0].data == {"rc": 3}


def test_a_no_log_result_shows_nothing_of_its_output() -> None:
    secret = [e for e in _mapped("events_sample.json") if e.task == "Secret output"
              and e.kind != "task"]
    assert [e.kind for e in secret] == ["changed"] and secret[0].message == ""


def test_stats_per_host() -> None:
    stats = _mapped("events_sample.json")[-1]
    assert stats.kind == "stats"
    assert stats.data == {"h1": {"ok": 6, "changed": 3, "failed": 1, "unreachable": 0,
                                 "skipped": 1, "rescued": 0, "ignored": 1}}
    result = PlaybookResult(2, "failed", stats.data, "h1: Fail for real: ...")
    assert result.changed == 3 and result.failed_hosts == ("h1",) and not result.ok


def test_an_unreachable_host() -> None:
    events = _mapped("events_unreachable.json")
    unreachable = [e for e in events if e.kind == "unreachable"]
    assert len(unreachable) == 1 and unreachable[0].host == "h1"
    assert "Connection refused" in unreachable[0].message
    assert events[-1].data["h1"]["unreachable"] == 1


def test_messages_are_one_bounded_printable_line() -> None:
    # edge cases a real module would rarely print on demand: hand-made results
    res = {"msg": "boom", "stderr": "\x1b[1mline 1\x1b[0m\nline 2\x07\n" + "x" * 2000}
    message = failure_message(res)
    assert "\n" not in message and "\x1b" not in message and "\x07" not in message
    assert len(message) <= MAX_MESSAGE and message.startswith("boom | line 1 | line 2")
    assert clean("a\r\nb\tc") == "a | b c"


def test_a_failed_loop_names_its_first_failed_item() -> None:
    res = {"msg": "One or more items failed", "results": [
        {"item": "ok-one", "failed": False},
        {"item": "overlay", "failed": True, "msg": "modprobe: FATAL: Module overlay not found",
         "rc": 1}]}
    assert failure_message(res) == "item overlay: modprobe: FATAL: Module overlay not found"


def test_unknown_events_are_dropped() -> None:
    assert to_event({"event": "runner_on_start", "event_data": {"host": "h1"}}) is None
    assert to_event({"event": "playbook_on_start", "event_data": {}}) is None
    assert to_event({"event": "verbose", "stdout": "  ", "event_data": {}}) is None
    line = to_event({"event": "warning", "stdout": "[WARNING]: x\x1b[0m", "event_data": {}})
    assert line == PlaybookEvent("output", message="[WARNING]: x")
