"""The step engine: event order, resume, failures, Ctrl-C, scratch, the lock, and a real
kill -9 of a process in the middle of a run, then resume from its state file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mlops_tui.backends.errors import ConfigError, ConnectionFailed
from mlops_tui.backends.provisioning.contract import (
    PlanStep,
    Step,
    StepContext,
    StepEvent,
    StepSkipped,
    StepStatus,
)
from mlops_tui.backends.provisioning.engine import run_destroy, run_steps
from mlops_tui.backends.provisioning.state import ClusterState, StateStore

ROOT = Path(__file__).resolve().parents[2]
S = StepStatus


def step(sid: str, *, lines: int = 0, changed: int = 0, fail: BaseException | None = None,
         skip: str | None = None, ran: list[str] | None = None, scratch: dict | None = None,
         wait: asyncio.Event | None = None) -> Step:
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        if ran is not None:
            ran.append(sid)
        for index in range(lines):
            yield ctx.output(f"{sid} line {index}", host="h1")
        ctx.changed += changed
        ctx.scratch.update(scratch or {})
        if wait is not None:
            await wait.wait()
        if skip is not None:
            raise StepSkipped(skip)
        if fail is not None:
            raise fail

    return Step(PlanStep(sid, f"Step {sid}"), body)


def new_state(store: StateStore, cluster: str = "lab") -> ClusterState:
    state = ClusterState(cluster=cluster, path="k3s-ssh")
    store.save(state)
    return state


async def collect(stream: AsyncIterator[StepEvent]) -> list[StepEvent]:
    return [event async for event in stream]


def by_step(events: list[StepEvent]) -> dict[str, list[StepStatus]]:
    out: dict[str, list[StepStatus]] = {}
    for event in events:
        out.setdefault(event.step, []).append(event.status)
    return out


async def test_each_step_streams_started_progress_lines_and_one_terminal(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = new_state(store)
    steps = [step("a", lines=2), step("b", changed=3), step("c")]
    events = await collect(run_steps(steps, store=store, state=state, resume=True))
    assert by_step(events) == {
        "a": [S.STARTED, S.PROGRESS, S.OUTPUT, S.OUTPUT, S.OK],
        "b": [S.STARTED, S.PROGRESS, S.CHANGED],
        "c": [S.STARTED, S.PROGRESS, S.OK]}
    assert [e.data["overall"] for e in events if e.status is S.PROGRESS] == [0, 1 / 3, 2 / 3]
    assert events[0].message == "Step a" and events[0].data == {"index": 0, "total": 3}
    changed = next(e for e in events if e.status is S.CHANGED)
    assert changed.data == {"changed": 3} and changed.message == "3 changed"
    assert events[2].host == "h1"
    on_disk = store.load("lab")
    assert on_disk.phase == "ready" == state.phase
    assert on_disk.completed == ["a", "b", "c"] and on_disk.last_error == ""


async def test_state_is_saved_after_every_step(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = new_state(store)
    seen: list[list[str]] = []

    async def look(ctx: StepContext) -> AsyncIterator[StepEvent]:
        seen.append(store.load("lab").completed)
        return
        yield

    steps = [step("a"), Step(PlanStep("look-1", "look"), look), step("b"),
             Step(PlanStep("look-2", "look"), look)]
    await collect(run_steps(steps, store=store, state=state, resume=True))
    assert seen == [["a"], ["a", "look-1", "b"]]


async def test_a_failed_step_stops_the_run_and_resume_starts_there(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = new_state(store)
    ran: list[str] = []
    failing = [step("a", ran=ran), step("b", ran=ran, fail=ConnectionFailed(
        "10.0.0.5:22 unreachable", hint="is sshd running?")), step("c", ran=ran)]
    events = await collect(run_steps(failing, store=store, state=state, resume=True))
    assert ran == ["a", "b"] and "c" not in by_step(events)
    failed = events[-1]
    assert failed.status is S.FAILED and failed.step == "b"
    assert failed.message == "10.0.0.5:22 unreachable (is sshd running?)"
    on_disk = store.load("lab")
    assert on_disk.phase == "failed" and on_disk.completed == ["a"]
    assert on_disk.last_error == "b: 10.0.0.5:22 unreachable (is sshd running?)"
    assert on_disk.status(["a", "b", "c"]).next_step == "b"

    ran.clear()
    fixed = [step("a", ran=ran), step("b", ran=ran), step("c", ran=ran)]
    events = await collect(run_steps(fixed, store=store, state=store.load("lab"), resume=True))
    assert ran == ["b", "c"]
    assert by_step(events)["a"] == [S.STARTED, S.SKIPPED]
    assert events[1].message == "done in an earlier run"
    assert store.load("lab").phase == "ready"

    ran.clear()  # without resume, every step runs again
    await collect(run_steps(fixed, store=store, state=store.load("lab"), resume=False))
    assert ran == ["a", "b", "c"]


async def test_skipped_and_unexpected_errors(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = new_state(store)
    steps = [step("gpu", skip="no host has a GPU"), step("bug", fail=KeyError("oops"))]
    events = await collect(run_steps(steps, store=store, state=state, resume=True))
    terminals = [(e.step, e.status, e.message) for e in events if e.terminal]
    assert terminals == [("gpu", S.SKIPPED, "no host has a GPU"),
                         ("bug", S.FAILED, "unexpected error: KeyError: 'oops'")]
    assert store.load("lab").completed == ["gpu"]  # a skip is a decision made: not redone


async def test_a_body_yielding_a_terminal_event_ends_its_step(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    after: list[str] = []

    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        yield ctx.output("checking")
        yield ctx.event(S.FAILED, "port 6443 is in use")
        after.append("ran on")  # never reached: the engine closes the body

    events = await collect(run_steps([Step(PlanStep("ports", "Ports"), body), step("next")],
                                     store=store, state=new_state(store), resume=True))
    assert [e.status for e in events] == [S.STARTED, S.PROGRESS, S.OUTPUT, S.FAILED]
    assert after == [] and store.load("lab").last_error == "ports: port 6443 is in use"


async def test_scratch_is_kept_between_runs_but_not_run_only_keys(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    seen: list[dict] = []

    async def read(ctx: StepContext) -> AsyncIterator[StepEvent]:
        seen.append(dict(ctx.scratch))
        return
        yield

    steps = [step("server", scratch={"server_url": "https://10.0.0.5:6443",
                                     "_join_token": "K10::server:abc"}),
             Step(PlanStep("agents", "Agents"), read)]
    await collect(run_steps(steps, store=store, state=new_state(store), resume=True))
    assert seen == [{"server_url": "https://10.0.0.5:6443", "_join_token": "K10::server:abc"}]
    text = (tmp_path / "lab" / "state.json").read_text()
    assert "K10::" not in text and json.loads(text)["scratch"] == {
        "server_url": "https://10.0.0.5:6443"}
    seen.clear()
    await collect(run_steps(steps, store=store, state=store.load("lab"), resume=False))
    assert seen[0]["server_url"] == "https://10.0.0.5:6443"


async def test_a_secret_in_scratch_fails_the_step_and_is_not_written(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    steps = [step("server", scratch={"node_token": "K10::server:abc"}), step("next")]
    events = await collect(run_steps(steps, store=store, state=new_state(store), resume=True))
    assert events[-1].status is S.FAILED and "scratch.node_token looks like a secret" in \
        events[-1].message and "K10::" not in events[-1].message
    assert "K10::" not in (tmp_path / "lab" / "state.json").read_text()


async def test_cancel_mid_step_records_interrupted_and_resume_continues(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    blocked, ran = asyncio.Event(), []
    steps = [step("a", ran=ran), step("b", ran=ran, wait=blocked), step("c", ran=ran)]
    events: list[StepEvent] = []

    async def consume() -> None:
        async for event in run_steps(steps, store=store, state=new_state(store), resume=True):
            events.append(event)

    task = asyncio.create_task(consume())
    for _ in range(200):  # bounded: until step b is running
        if ran == ["a", "b"]:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    on_disk = store.load("lab")
    assert (on_disk.phase, on_disk.last_error, on_disk.completed) == ("failed", "interrupted",
                                                                       ["a"])
    with store.lock("lab"):  # released
        pass
    ran.clear()
    resumed = [step("a", ran=ran), step("b", ran=ran), step("c", ran=ran)]
    await collect(run_steps(resumed, store=store, state=on_disk, resume=True))
    assert ran == ["b", "c"] and store.load("lab").phase == "ready"


async def test_closing_the_stream_early_records_interrupted_and_frees_the_lock(
        tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    stream = run_steps([step("a", lines=5), step("b")], store=store, state=new_state(store),
                       resume=True)
    async with contextlib.aclosing(stream):
        async for event in stream:
            if event.status is S.OUTPUT:
                break
    assert store.load("lab").last_error == "interrupted"
    with store.lock("lab"):
        pass


async def test_a_second_concurrent_apply_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    gate = asyncio.Event()
    first = run_steps([step("a", wait=gate)], store=store, state=new_state(store), resume=True)
    started = await anext(first)
    assert started.status is S.STARTED
    with pytest.raises(ConfigError, match="cluster .lab. is being applied by this mlops-tui"):
        await collect(run_steps([step("a")], store=store, state=store.load("lab"),
                                resume=True))
    gate.set()
    rest = await collect(first)
    assert rest[-1].status is S.OK


async def test_a_newer_state_on_disk_is_taken_before_running(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    stale = new_state(store)
    newer = store.load("lab")
    newer.completed = ["a"]
    store.save(newer)
    ran: list[str] = []
    await collect(run_steps([step("a", ran=ran), step("b", ran=ran)], store=store,
                            state=stale, resume=True))
    assert ran == ["b"] and stale.completed == ["a", "b"]


async def test_duplicate_step_ids_are_a_programming_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with pytest.raises(ValueError, match="two steps have the id 'a'"):
        await collect(run_steps([step("a"), step("a")], store=store, state=new_state(store),
                                resume=True))


async def test_destroy_runs_every_step_and_reports_every_failure(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = new_state(store)
    await collect(run_steps([step("a", scratch={"server_url": "u"})], store=store, state=state,
                            resume=True))
    ran: list[str] = []
    seen: list[dict] = []

    async def read(ctx: StepContext) -> AsyncIterator[StepEvent]:
        seen.append(dict(ctx.scratch))
        return
        yield

    steps = [step("agents", ran=ran, fail=ConnectionFailed("agent-1 unreachable")),
             step("server", ran=ran, fail=ConnectionFailed("server unreachable")),
             Step(PlanStep("context", "Kubeconfig"), read)]
    events = await collect(run_destroy(steps, store=store, state=store.load("lab")))
    assert ran == ["agents", "server"] and seen == [{"server_url": "u"}]
    assert [e.status for e in events if e.terminal] == [S.FAILED, S.FAILED, S.OK]
    on_disk = store.load("lab")
    assert on_disk.phase == "failed" and on_disk.completed == []
    assert on_disk.last_error == "agents: agent-1 unreachable; server: server unreachable"

    events = await collect(run_destroy([step("agents"), step("server")], store=store,
                                       state=on_disk))
    on_disk = store.load("lab")
    assert (on_disk.phase, on_disk.last_error, on_disk.scratch) == ("destroyed", "", {})


# -- kill -9 in the middle of a run, then resume ----------------------------------------------

CHILD = """
    import asyncio, sys
    from pathlib import Path
    from mlops_tui.backends.provisioning.contract import PlanStep, Step
    from mlops_tui.backends.provisioning.engine import run_steps
    from mlops_tui.backends.provisioning.state import ClusterState, StateStore

    def make(sid, hang):
        async def body(ctx):
            ctx.changed += 1
            ctx.scratch[sid] = "done"
            if hang:
                print("hanging in", sid, flush=True)
                await asyncio.sleep(60)
            return
            yield
        return Step(PlanStep(sid, sid), body)

    async def main():
        store = StateStore(Path(sys.argv[1]))
        state = ClusterState(cluster="lab", path="k3s-ssh")
        steps = [make(s, s == "c") for s in "abcd"]
        async for event in run_steps(steps, store=store, state=state, resume=True):
            pass

    asyncio.run(main())
"""


async def test_kill_9_mid_run_then_resume_continues_from_the_step_it_was_in(
        tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
        assert line.strip() == "hanging in c", child.stderr.read() if child.poll() else line
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    store = StateStore(tmp_path)
    state = store.load("lab")
    # killed inside c: a and b recorded, the phase still says applying (no chance to say more)
    assert (state.phase, state.completed, state.scratch) == ("applying", ["a", "b"],
                                                            {"a": "done", "b": "done"})
    ran: list[str] = []
    steps = [step(s, ran=ran) for s in "abcd"]
    events = await collect(run_steps(steps, store=store, state=state, resume=True))
    assert ran == ["c", "d"]
    assert [e.status for e in events if e.terminal] == [S.SKIPPED, S.SKIPPED, S.OK, S.OK]
    assert store.load("lab").completed == ["a", "b", "c", "d"]
