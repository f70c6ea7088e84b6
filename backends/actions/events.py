"""What an action streams: plain events, the same for the screens and the script runner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    STARTED = "started"
    PROGRESS = "progress"  # ``fraction`` in [0, 1] where known
    OUTPUT = "output"  # one line of output (a log line, a drain step)
    WARNING = "warning"
    OK = "ok"  # terminal: it worked; ``data`` holds the result
    FAILED = "failed"  # terminal: see ``failure``


class Failure(StrEnum):
    """Why an action failed; the script runner's exit code follows from it."""

    CHECK = "check"  # a condition did not hold: a wait timed out, a count was wrong (exit 1)
    ENVIRONMENT = "environment"  # unreachable, refused, misconfigured, unknown kind (exit 2)
    CANCELLED = "cancelled"  # Ctrl-C, SIGTERM or a step timeout cut it short


TERMINAL = frozenset({EventKind.OK, EventKind.FAILED})


@dataclass(frozen=True, slots=True)
class ActionEvent:
    kind: EventKind
    message: str = ""
    fraction: float | None = None
    data: Any = None
    failure: Failure | None = None

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


def started(message: str = "") -> ActionEvent:
    return ActionEvent(EventKind.STARTED, message)


def progress(message: str, fraction: float | None = None, data: Any = None) -> ActionEvent:
    if fraction is not None:
        fraction = min(1.0, max(0.0, fraction))
    return ActionEvent(EventKind.PROGRESS, message, fraction, data)


def output(line: str) -> ActionEvent:
    return ActionEvent(EventKind.OUTPUT, line)


def warning(message: str) -> ActionEvent:
    return ActionEvent(EventKind.WARNING, message)


def ok(message: str = "", data: Any = None) -> ActionEvent:
    return ActionEvent(EventKind.OK, message, 1.0, data)


def failed(message: str, failure: Failure = Failure.CHECK, data: Any = None) -> ActionEvent:
    return ActionEvent(EventKind.FAILED, message, None, data, failure)
