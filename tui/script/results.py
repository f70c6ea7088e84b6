"""What a run records per step, and the exit code that follows from it."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlops_tui.backends.actions import Failure
from mlops_tui.tui.script.loader import Step

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
OUTPUT_KEPT = 200  # last output lines of a step kept for the JUnit report
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # no UTF-8 form: strict JSON readers refuse them


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # interrupted by SIGINT / SIGTERM (a step timeout is "failed")


@dataclass(slots=True)
class StepResult:
    step: Step
    status: Status
    duration_s: float = 0.0
    message: str = ""  # the ok message, or why it failed / was skipped / was cancelled
    data: Any = None
    failure: Failure | None = None
    output: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return None if self.status is Status.OK else self.message

    def exit_code(self) -> int:
        """0 passed or skipped; 2 an environment failure; 1 any other failure."""
        if self.status is Status.FAILED:
            return EXIT_USAGE if self.failure is Failure.ENVIRONMENT else EXIT_CHECK_FAILED
        return EXIT_CHECK_FAILED if self.status is Status.CANCELLED else EXIT_OK


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready data: dataclasses, enums, dates, sets and bytes converted,
    non-finite floats as null, lone surrogates as U+FFFD, anything unknown as its ``str``."""
    if depth > 64:
        return str(value)
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    dump = getattr(value, "model_dump", None)  # a pydantic model
    if callable(dump):
        return plain(dump(mode="json"), depth + 1)
    return str(value)


def one_line(text: str) -> str:
    """``text`` safe for a terminal line: control characters (escapes, newlines) shown as
    ``\\xNN``, so nothing a server sends can move the cursor or recolour the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
