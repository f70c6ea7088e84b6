"""Run a validated script: connect, then each step through the action layer, in order.

``run_script`` is the in-process entry (the CLI and tests call it). Rules:

* a step runs ``execute(spec, ctx, request)``; its ``timeout`` (default 10m) cancels it and
  counts as a failed check (exit 1);
* the first failed step stops the run unless it has ``continue_on_error``; the exit code
  still reports every failure (0 only when every step that ran passed), so a cleanup step
  can run after a failed check without hiding it;
* SIGINT / SIGTERM (with ``handle_signals``) cancel the current step (asyncio task
  cancellation), record it as cancelled and the rest as skipped, and return 130 / 143;
* the JUnit report is written in every case, interruption included;
* the cluster is connected at the first step whose action needs one (``needs_cluster``):
  preflight / provision / destroy run with no kubeconfig at all;
* ``MLOPS_TUI_SUDO_PASSWORD`` answers a step's "sudo password for HOST" question; it is
  masked in every report and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import traceback
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops_tui.backends import registry
from mlops_tui.backends.actions import ActionContext, ActionEvent, EventKind, Failure, execute
from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.models import BackendSettings, MetricsSettings
from mlops_tui.backends.protocols import ClusterBackend, MetricsSource, ProvisionerSource
from mlops_tui.tui.script import junit
from mlops_tui.tui.script.loader import STDIN_NAME, Script, Step
from mlops_tui.tui.script.report import Reporter
from mlops_tui.tui.script.results import (
    EXIT_OK,
    EXIT_USAGE,
    OUTPUT_KEPT,
    Status,
    StepResult,
    format_seconds,
)
from mlops_tui.tui.script.settings import script_metrics

log = logging.getLogger(__name__)
SUDO_PASSWORD_ENV = "MLOPS_TUI_SUDO_PASSWORD"  # the answer to "sudo password for HOST"
CLOSE_TIMEOUT_S = 5.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class RunOptions:
    """How to reach the cluster. ``cluster`` holds the CLI's flags: its context and
    namespace win over the script's, which apply where it names none."""

    backend: str = "kubernetes"
    cluster: BackendSettings = field(default_factory=BackendSettings)
    metrics: MetricsSettings | None = None  # None: the script's prometheus section, env, config
    metrics_source: str | None = None  # None: "demo" with the demo backend, else "prometheus"
    junit: str | None = None
    handle_signals: bool = False  # only the main thread's loop can take signals
    backend_instance: ClusterBackend | None = None  # an already-built backend (tests)


class _Interrupted(Exception):
    pass


class _Interrupt:
    """Turns SIGINT / SIGTERM into the cancellation of whatever task runs now."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._task: asyncio.Future | None = None
        self._installed: list[int] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
                self._installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                log.debug("cannot handle signal %s here", signum)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()

    def _on_signal(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        if self._task is not None:
            self._task.cancel()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "interrupt"

    async def run(self, coro):
        """Await ``coro`` as a task a signal can cancel.

        Raises:
            _Interrupted: a signal came before or while it ran.
        """
        if self.signum is not None:
            coro.close()
            raise _Interrupted
        task = self._task = asyncio.ensure_future(coro)
        try:
            return await task
        except asyncio.CancelledError:
            if self.signum is not None and task.cancelled():
                raise _Interrupted from None
            task.cancel()  # we were cancelled from outside: take the step down with us
            raise
        finally:
            self._task = None


class _Metrics:
    """The metrics source, built on first use (finding Prometheus may take API calls)."""

    def __init__(self, name: str, settings: MetricsSettings, backend: ClusterBackend) -> None:
        self._args = (name, settings, backend)
        self._source: MetricsSource | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> MetricsSource:
        async with self._lock:
            if self._source is None:
                self._source = await registry.create_metrics(*self._args)
            return self._source

    async def close(self) -> None:
        if self._source is not None:
            await self._source.close()


class _Run:
    def __init__(self, script: Script, options: RunOptions, out: Reporter) -> None:
        self.script, self.options, self.out = script, options, out
        self.results: list[StepResult] = []
        self.interrupt = _Interrupt()
        self.total = len(script.steps)
        self.code_floor = EXIT_OK  # a later connect that failed: exit 2 at least

    async def steps(self, cluster: _Cluster) -> None:
        stop_reason = ""
        for step in self.script.steps:
            if self.interrupt.signum is not None:
                stop_reason = f"not run: interrupted by {self.interrupt.name}"
            if stop_reason:
                self.record(StepResult(step, Status.SKIPPED, message=stop_reason))
                continue
            ctx = cluster.context_for(step)
            if ctx is None:
                try:
                    ctx = await cluster.connect()
                except BackendError as exc:
                    self.out.error(f"error: {exc}")
                    self.code_floor = EXIT_USAGE
                    stop_reason = "not run: could not connect"
                    self.record(StepResult(step, Status.SKIPPED, message=stop_reason))
                    continue
                except _Interrupted:
                    stop_reason = f"not run: interrupted by {self.interrupt.name}"
                    self.record(StepResult(step, Status.SKIPPED, message=stop_reason))
                    continue
            result = await self.step(step, ctx)
            self.record(result)
            if result.status is Status.CANCELLED:
                stop_reason = f"not run: interrupted by {self.interrupt.name}"
            elif result.status is Status.FAILED and not step.continue_on_error:
                stop_reason = f"not run: step {step.index} failed"

    def record(self, result: StepResult) -> None:
        self.results.append(result)
        self.out.finish(result, self.total)

    async def step(self, step: Step, ctx: ActionContext) -> StepResult:
        self.out.start(step, self.total)
        started = time.monotonic()
        output: deque[str] = deque(maxlen=OUTPUT_KEPT)
        last: list[ActionEvent] = []

        async def consume() -> bool:
            """Run the action to its end; True when the step's own timeout cut it short."""
            deadline = asyncio.timeout(step.timeout)
            try:
                async with deadline:
                    async with aclosing(execute(step.spec, ctx, step.request)) as stream:
                        async for event in stream:
                            if event.kind is EventKind.OUTPUT:
                                output.append(event.message)
                            if event.terminal:
                                last.append(event)
                            self.out.event(step, event, time.monotonic() - started)
            except TimeoutError:
                if deadline.expired():
                    return True
                raise  # the action's own TimeoutError: a bug, reported as one
            return False

        def result(status: Status, message: str, failure: Failure | None = None,
                   data: object = None) -> StepResult:
            return StepResult(step, status, time.monotonic() - started, message, data,
                              failure, list(output))

        try:
            timed_out = await self.interrupt.run(consume())
        except _Interrupted:
            return result(Status.CANCELLED, f"cancelled by {self.interrupt.name}",
                          Failure.CANCELLED)
        except Exception as exc:  # a bug in an action must end as a failed step, not a trace
            log.error("step %s (%s) raised: %s", step.index, step.action,
                      self.script.masker.text(traceback.format_exc()))  # no secret in a log
            return result(Status.FAILED, f"internal error: {exc.__class__.__name__}: {exc}",
                          Failure.ENVIRONMENT)
        if timed_out:
            return result(Status.FAILED, f"timed out after {format_seconds(step.timeout)}",
                          Failure.CANCELLED)
        end = last[-1] if last else None
        if end is None or end.kind is EventKind.FAILED:
            return result(Status.FAILED, end.message if end else "ended without a result",
                          end.failure if end else Failure.CHECK, end.data if end else None)
        return result(Status.OK, end.message, data=end.data)

    def skip_all(self, reason: str) -> None:
        for step in self.script.steps[len(self.results):]:
            self.record(StepResult(step, Status.SKIPPED, message=reason))

    def exit_code(self) -> int:
        if self.interrupt.signum is not None:
            return 128 + self.interrupt.signum
        return max((self.code_floor, *(r.exit_code() for r in self.results)))


async def run_script(script: Script, options: RunOptions, out: Reporter) -> int:
    """Connect, run every step, write the reports; return the exit code.

    0 every step passed; 1 a check failed (or a step timed out); 2 the cluster could not be
    used (unreachable, refused, unknown context or kind); 128 + the signal when interrupted.
    """
    run = _Run(script, options, out)
    wall, started = time.monotonic(), time.time()
    code = EXIT_USAGE  # what stands if something below escapes (an outside cancellation)
    if options.handle_signals:
        run.interrupt.install()
    try:
        code = await _connect_and_run(run, options.backend_instance)
    finally:
        if options.handle_signals:
            run.interrupt.uninstall()
        elapsed = time.monotonic() - wall
        if options.junit and not _write_junit(run, elapsed, started):
            code = max(code, EXIT_USAGE)
        out.summary(run.results, elapsed)
    return code


async def _connect_and_run(run: _Run, backend: ClusterBackend | None) -> int:
    cluster = _Cluster(run, backend)
    try:
        try:
            cluster.create()
            if any(step.spec.needs_cluster for step in run.script.steps[:1]):
                await cluster.connect()  # as before: a first step on the cluster connects
        except BackendError as exc:
            run.out.error(f"error: {exc}")
            run.skip_all("not run: could not connect")
            return EXIT_USAGE
        except _Interrupted:
            run.skip_all(f"not run: interrupted by {run.interrupt.name}")
            return run.exit_code()
        await run.steps(cluster)
        return run.exit_code()
    finally:
        await cluster.close()


class _Cluster:
    """The session's backend, connected at the first step that needs a cluster: a script of
    preflight / provision / destroy runs where there is no kubeconfig at all, and a script
    that provisions a cluster and then uses it connects once the cluster exists."""

    def __init__(self, run: _Run, backend: ClusterBackend | None) -> None:
        self.run, self.backend = run, backend
        self.owned = backend is None  # closed here only when made here
        self.metrics: _Metrics | None = None
        self.connected: ActionContext | None = None
        self.secrets = SudoPassword(run)
        workdir = None if run.script.file == STDIN_NAME else Path(run.script.file).parent
        self.base = ActionContext(_NoCluster(), workdir=workdir, ask_secret=self.secrets.ask)

    def create(self) -> None:
        """Build (not connect) the backend. Raises: BackendError (an unknown backend)."""
        if self.backend is None:
            options = self.run.options
            self.backend = registry.create(options.backend,
                                           _with_header(options.cluster, self.run.script))

    async def connect(self) -> ActionContext:
        """Connect (once). Raises: BackendError, _Interrupted."""
        if self.connected is None:
            assert self.backend is not None
            options, script = self.run.options, self.run.script
            info = await self.run.interrupt.run(self.backend.connect())
            source = options.metrics_source or registry.metrics_source_for(self.backend)
            self.metrics = _Metrics(source, options.metrics or script_metrics(script),
                                    self.backend)
            namespace = options.cluster.namespace or script.namespace or info.namespace
            self.connected = replace(self.base, backend=self.backend, namespace=namespace,
                                     metrics=self.metrics.get)
        return self.connected

    def context_for(self, step: Step) -> ActionContext | None:
        """The context of a step that needs no cluster; None when it needs one. A backend
        that provisions by itself (the demo) is handed over unconnected."""
        if step.spec.needs_cluster:
            return self.connected
        if self.connected is not None:
            return self.connected
        if isinstance(self.backend, ProvisionerSource):
            return replace(self.base, backend=self.backend)
        return self.base

    async def close(self) -> None:
        await _close(self.backend if self.owned else None,
                     self.metrics)


class _NoCluster:
    """The backend of a step that needs no cluster: any use of it is a clear error."""

    name = "no-cluster"
    readonly = False

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError("this step needs a cluster, and none is connected for it")

    connect = info = kinds = resolve_kind = cache = set_namespace = _refuse

    async def close(self) -> None:
        return None


class SudoPassword:
    """The script's way to answer "sudo password for HOST": ``MLOPS_TUI_SUDO_PASSWORD``
    (the same password for every host). It is masked in every report from the start, and
    never logged."""

    def __init__(self, run: _Run) -> None:
        self.value = os.environ.get(SUDO_PASSWORD_ENV) or None
        if self.value:
            masker = run.script.masker.with_secrets(self.value)
            run.script = replace(run.script, masker=masker)
            run.out.masker = masker

    async def ask(self, prompt: str) -> str | None:
        return self.value


def _with_header(settings: BackendSettings, script: Script) -> BackendSettings:
    """The script's context and namespace, where the settings (the CLI's flags) name none."""
    return replace(settings, context=settings.context or script.context,
                   namespace=settings.namespace or script.namespace)


def _write_junit(run: _Run, elapsed: float, started: float) -> bool:
    path = run.options.junit
    assert path is not None
    try:
        junit.write(path, run.script, run.results, elapsed, started)
    except OSError as exc:
        run.out.error(f"error: cannot write the JUnit report {path}: {exc.strerror or exc}")
        return False
    return True


async def _close(*things: object) -> None:
    for thing in things:
        if thing is None:
            continue
        try:
            await asyncio.wait_for(thing.close(), CLOSE_TIMEOUT_S)  # type: ignore[attr-defined]
        except Exception:  # closing must not hide the run's result
            log.warning("closing %s failed", type(thing).__name__, exc_info=True)
