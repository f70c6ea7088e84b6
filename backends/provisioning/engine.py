"""The step engine: runs a provisioner's steps in order and makes every run resumable.

Every provisioner hands its steps here, so all of them behave alike: the cluster's lock is
held for the whole run; each step streams ``started``, an overall ``progress`` (``data``:
``{"overall": fraction}``), its body's events and exactly one terminal event; the state is
saved after every step (a process killed between steps resumes at the next one); a failed
step stops the run (phase ``failed``, ``last_error``); Ctrl-C records ``interrupted`` and
re-raises. A step's :class:`BackendError` is a ``failed`` event, never an exception.

Scratch: every step of a run sees one dict (``ctx.scratch``), loaded from the state. Keys
starting with ``_`` live for this run only (a join token a later step needs: never
written); the others are saved with the state and must be JSON without secrets.

Consumers should close the stream (``contextlib.aclosing``) when they stop early, so the
lock is released at once rather than when the generator is collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from mlops_tui.backends.errors import ENVIRONMENT_ERRORS, BackendError
from mlops_tui.backends.provisioning.contract import (
    Step,
    StepContext,
    StepEvent,
    StepSkipped,
    StepStatus,
)
from mlops_tui.backends.provisioning.state import ClusterState, StateStore, check_no_secrets

log = logging.getLogger(__name__)

DONE_BEFORE = "done in an earlier run"
INTERRUPTED = "interrupted"
#: what a stop from outside looks like inside the generator (Ctrl-C, a closed stream)
_STOPS = (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, SystemExit)


async def run_steps(steps: list[Step], *, store: StateStore, state: ClusterState,
                    resume: bool) -> AsyncIterator[StepEvent]:
    """Run the apply ``steps`` of ``state``'s cluster, recording each in the state.

    Args:
        steps: in order; their ids are unique.
        store: where ``state`` is saved.
        state: updated in place (phase, completed, scratch, last_error); a newer copy on
            disk (another run finished since it was loaded) is taken first.
        resume: steps the state records as done are ``skipped`` ("done in an earlier run");
            without it every step runs again.

    Yields:
        The steps' events; the run stops after a ``failed`` one.

    Raises:
        ConfigError: another run holds the cluster's lock; the state cannot be read or
            written.
        ValueError: two steps share an id (a bug in the provisioner).
        asyncio.CancelledError: re-raised after recording "interrupted".
    """
    _check_ids(steps)
    with store.lock(state.cluster):
        _take_newer(store, state)
        if not resume:
            state.completed = []
        state.phase, state.last_error = "applying", ""
        store.save(state)
        scratch: dict[str, Any] = dict(state.scratch)
        try:
            for index, step in enumerate(steps):
                sid = step.plan.id
                yield _started(step, index, len(steps))
                if resume and sid in state.completed:
                    yield StepEvent(sid, StepStatus.SKIPPED, DONE_BEFORE)
                    continue
                yield _overall(step, index, len(steps))
                terminal = None
                async with contextlib.aclosing(_run_step(step, scratch)) as events:
                    async for event in events:
                        if not event.terminal:
                            yield event
                        else:
                            terminal = _keep_scratch(state, scratch, event)
                assert terminal is not None  # _run_step always ends with one
                if terminal.status is StepStatus.FAILED:
                    state.phase, state.last_error = "failed", f"{sid}: {terminal.message}"
                    store.save(state)
                    yield terminal
                    return
                if sid not in state.completed:
                    state.completed.append(sid)
                store.save(state)
                yield terminal
            state.phase = "ready"
            store.save(state)
        except _STOPS:
            _record_interrupted(store, state)
            raise


async def run_destroy(steps: list[Step], *, store: StateStore,
                      state: ClusterState) -> AsyncIterator[StepEvent]:
    """Run every destroy step, even after one fails (each undoes what it can), then mark
    the state ``destroyed`` when all succeeded (scratch cleared), ``failed`` (the failures
    in ``last_error``) when not. The steps see the apply's scratch. ``completed`` is cleared
    first: a half-destroyed cluster is applied again from the start.

    Raises:
        ConfigError: another run holds the cluster's lock; the state cannot be written.
        ValueError: two steps share an id.
        asyncio.CancelledError: re-raised after recording "interrupted".
    """
    _check_ids(steps)
    with store.lock(state.cluster):
        _take_newer(store, state)
        state.phase, state.last_error, state.completed = "destroying", "", []
        store.save(state)
        scratch: dict[str, Any] = dict(state.scratch)
        failures: list[str] = []
        try:
            for index, step in enumerate(steps):
                yield _started(step, index, len(steps))
                yield _overall(step, index, len(steps))
                async with contextlib.aclosing(_run_step(step, scratch)) as events:
                    async for event in events:
                        if event.terminal and event.status is StepStatus.FAILED:
                            failures.append(f"{step.plan.id}: {event.message}")
                        yield event
            state.phase = "failed" if failures else "destroyed"
            state.last_error = "; ".join(failures)[:2000]
            if not failures:
                state.scratch = {}
            store.save(state)
        except _STOPS:
            _record_interrupted(store, state)
            raise


async def _run_step(step: Step, scratch: dict[str, Any]) -> AsyncIterator[StepEvent]:
    """One step's events, ending with exactly one terminal event. A body that yields a
    terminal event itself ends the step with it."""
    ctx = StepContext(step.plan.id, scratch=scratch)
    terminal: StepEvent | None = None
    body: AsyncIterator[StepEvent] | None = None
    try:
        body = step.body(ctx)
        async for event in body:
            if event.terminal:
                terminal = event
                break
            yield event
    except StepSkipped as skipped:
        terminal = ctx.event(StepStatus.SKIPPED, str(skipped) or "not needed here")
    except BackendError as error:
        # whether the environment must change first (an unreachable host, a refused key):
        # a script exits 2 for those, 1 for a check that did not hold
        terminal = ctx.event(StepStatus.FAILED, str(error) or type(error).__name__,
                             data={"environment": isinstance(error, ENVIRONMENT_ERRORS)})
    except Exception as error:  # a bug in a step: shown as its failure, logged in full
        log.exception("step %s raised", step.plan.id)
        terminal = ctx.event(StepStatus.FAILED,
                             f"unexpected error: {type(error).__name__}: {error}")
    finally:
        closer = getattr(body, "aclose", None)
        if closer is not None:
            await closer()
    if terminal is None:
        terminal = (ctx.event(StepStatus.CHANGED, f"{ctx.changed} changed",
                              data={"changed": ctx.changed}) if ctx.changed > 0
                    else ctx.event(StepStatus.OK, data={"changed": 0}))
    yield terminal


def _keep_scratch(state: ClusterState, scratch: dict[str, Any],
                  terminal: StepEvent) -> StepEvent:
    """Copy the run's scratch (less ``_`` keys) into the state; a secret or a non-JSON
    value there fails the step (and is not kept) instead."""
    kept = {key: value for key, value in scratch.items() if not key.startswith("_")}
    try:
        check_no_secrets(kept, "scratch")
    except ValueError as error:  # the run stops here, so the bad value goes no further
        return StepEvent(terminal.step, StepStatus.FAILED,
                         f"the step left a value that cannot be stored (a bug): {error}")
    state.scratch = kept
    return terminal


def _take_newer(store: StateStore, state: ClusterState) -> None:
    on_disk = store.load(state.cluster)
    if on_disk is not None and on_disk.updated > state.updated:
        for name in ("phase", "completed", "scratch", "context", "last_error", "created"):
            setattr(state, name, getattr(on_disk, name))


def _record_interrupted(store: StateStore, state: ClusterState) -> None:
    state.phase, state.last_error = "failed", INTERRUPTED
    try:
        store.save(state)
    except (BackendError, ValueError) as error:  # the stop itself matters more
        log.warning("could not record the interruption of %s: %s", state.cluster, error)


def _started(step: Step, index: int, total: int) -> StepEvent:
    return StepEvent(step.plan.id, StepStatus.STARTED, step.plan.title,
                     data={"index": index, "total": total})


def _overall(step: Step, index: int, total: int) -> StepEvent:
    return StepEvent(step.plan.id, StepStatus.PROGRESS, f"step {index + 1} of {total}",
                     data={"overall": index / total if total else 0.0})


def _check_ids(steps: list[Step]) -> None:
    ids = [step.plan.id for step in steps]
    duplicate = next((sid for sid in ids if ids.count(sid) > 1), None)
    if duplicate:
        raise ValueError(f"two steps have the id {duplicate!r}")
