"""Where a run's results go: human text (default) or JSON lines, both masked.

Text: one line per step as it finishes (``✓ 2/5 scale deployment/web (0.3s) scaled ...``)
on stdout, warnings indented under it, a live progress line on stderr when stderr is a
terminal, and a summary. JSON (``--output json``): one object per line with exactly the keys
``step`` (1-based), ``name``, ``action``, ``status``, ``duration_s``, ``data``, ``error``.
``status`` is ``ok``, ``failed``, ``skipped`` or ``cancelled`` for a step's result, and
``progress`` (data: message, fraction), ``output`` (data: line) or ``warning`` (data:
message) while it runs; ``planned`` (data: args, timeout_s, continue_on_error) in a dry run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any, Protocol, TextIO

from mlops_tui.backends.actions import ActionEvent, EventKind
from mlops_tui.tui.script.loader import Script, Step
from mlops_tui.tui.script.progress import LiveLine, bar
from mlops_tui.tui.script.results import Status, StepResult, format_seconds, one_line, plain
from mlops_tui.tui.script.variables import Masker

TICK_S = 0.5  # the live line's elapsed time moves even when a step is quiet


class Reporter(Protocol):
    """What the runner tells its output. Implementations mask secrets themselves."""

    masker: Masker

    def plan(self, script: Script) -> None: ...
    def start(self, step: Step, total: int) -> None: ...
    def event(self, step: Step, event: ActionEvent, elapsed: float) -> None: ...
    def finish(self, result: StepResult, total: int) -> None: ...
    def summary(self, results: list[StepResult], elapsed: float) -> None: ...
    def error(self, message: str) -> None: ...


def write_line(stream: TextIO, text: str) -> None:
    """Print one line; a reader that went away (``| head``) stops the output, not the run:
    the steps still run and the JUnit report is still written."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):  # as Python's docs advise for SIGPIPE
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except ValueError:  # closed
        pass


def _args_text(args: dict[str, Any]) -> str:
    return json.dumps(plain(args), ensure_ascii=False, separators=(", ", ": "))


class TextReporter:
    def __init__(self, masker: Masker, out: TextIO | None = None, err: TextIO | None = None,
                 *, live: bool | None = None) -> None:
        self.masker = masker
        self.out, self.err = out or sys.stdout, err or sys.stderr
        live = self.err.isatty() if live is None else live
        self._line = LiveLine(self.err) if live else None
        self._marks = self._pick_marks()
        self._status = ""
        self._ticker: asyncio.Task | None = None

    def _pick_marks(self) -> dict[Status, str]:
        try:  # a C-locale terminal or a log file in latin-1 gets words instead
            "✓✗".encode(getattr(self.out, "encoding", None) or "utf-8")
            ok, bad = "✓", "✗"
        except (UnicodeEncodeError, LookupError):
            ok, bad = "ok", "FAIL"
        return {Status.OK: ok, Status.FAILED: bad, Status.CANCELLED: bad, Status.SKIPPED: "-"}

    def _say(self, text: str, stream: TextIO | None = None) -> None:
        if self._line is not None:
            self._line.clear()
        write_line(stream or self.out, one_line(self.masker.text(text)))

    def plan(self, script: Script) -> None:
        self._say(f"plan: {script.file}: {len(script.steps)} steps (dry run, nothing sent)")
        for step in script.steps:
            flags = [f"timeout {format_seconds(step.timeout)}"]
            if step.continue_on_error:
                flags.append("continue_on_error")
            self._say(f"{step.index:>3}. {step.name}: {step.action} {_args_text(step.args)}"
                      f"  [{', '.join(flags)}]")

    def start(self, step: Step, total: int) -> None:
        self._status = f"{step.index}/{total} {step.name}"
        if self._line is None:
            return
        started = asyncio.get_running_loop().time()
        self._draw(0.0, "", None, force=True)

        async def tick() -> None:
            loop = asyncio.get_running_loop()
            while True:
                await asyncio.sleep(TICK_S)
                self._draw(loop.time() - started, self._detail, self._fraction, force=True)

        self._detail, self._fraction = "", None
        self._ticker = asyncio.get_running_loop().create_task(tick())

    def _draw(self, elapsed: float, detail: str, fraction: float | None, *,
              force: bool = False) -> None:
        if self._line is None:
            return
        parts = [self._status, format_seconds(elapsed)]
        if fraction is not None:
            parts.append(bar(fraction))
        if detail:
            parts.append(detail)
        self._line.show(one_line(self.masker.text(" ".join(parts))), force=force)

    def event(self, step: Step, event: ActionEvent, elapsed: float) -> None:
        if event.kind is EventKind.WARNING:
            self._say(f"    ! {event.message}")
        elif event.kind in (EventKind.PROGRESS, EventKind.OUTPUT) and self._line is not None:
            self._detail = event.message
            if event.fraction is not None:
                self._fraction = event.fraction
            self._draw(elapsed, self._detail, self._fraction)

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def finish(self, result: StepResult, total: int) -> None:
        self._stop_ticker()
        step = result.step
        head = f"{self._marks[result.status]} {step.index}/{total} {step.name}"
        if result.status is Status.SKIPPED:
            self._say(f"{head} skipped: {result.message}")
        else:
            text = f" {result.message}" if result.message else ""
            self._say(f"{head} ({format_seconds(result.duration_s)}){text}")

    def summary(self, results: list[StepResult], elapsed: float) -> None:
        self._stop_ticker()  # a run cancelled from outside never finished its step
        counts = {status: sum(r.status is status for r in results) for status in Status}
        parts = [f"{counts[Status.OK]} passed"] + [
            f"{counts[s]} {s.value}" for s in (Status.FAILED, Status.CANCELLED, Status.SKIPPED)
            if counts[s]]
        self._say(f"{', '.join(parts)} in {format_seconds(elapsed)}")

    def error(self, message: str) -> None:
        self._say(message, self.err)


class JsonReporter:
    def __init__(self, masker: Masker, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.masker = masker
        self.out, self.err = out or sys.stdout, err or sys.stderr

    def _emit(self, step: Step, status: str, duration: float, data: Any,
              error: str | None) -> None:
        record = {"step": step.index, "name": step.name, "action": step.action,
                  "status": status, "duration_s": round(duration, 3),
                  "data": self.masker.data(plain(data)),
                  "error": None if error is None else self.masker.text(error)}
        record["name"] = self.masker.text(record["name"])
        # ensure_ascii: every control or odd character escaped, one object per line always
        write_line(self.out, json.dumps(record))

    def plan(self, script: Script) -> None:
        for step in script.steps:
            self._emit(step, "planned", 0.0, {"args": step.args, "timeout_s": step.timeout,
                                              "continue_on_error": step.continue_on_error},
                       None)

    def start(self, step: Step, total: int) -> None:
        pass

    def event(self, step: Step, event: ActionEvent, elapsed: float) -> None:
        if event.kind is EventKind.PROGRESS:
            self._emit(step, "progress", elapsed,
                       {"message": event.message, "fraction": event.fraction}, None)
        elif event.kind is EventKind.OUTPUT:
            self._emit(step, "output", elapsed, {"line": event.message}, None)
        elif event.kind is EventKind.WARNING:
            self._emit(step, "warning", elapsed, {"message": event.message}, None)

    def finish(self, result: StepResult, total: int) -> None:
        # data is the action's own result, as it gave it (the text output shows the message)
        self._emit(result.step, result.status.value, result.duration_s, result.data,
                   result.error)

    def summary(self, results: list[StepResult], elapsed: float) -> None:
        pass

    def error(self, message: str) -> None:
        write_line(self.err, one_line(self.masker.text(message)))
