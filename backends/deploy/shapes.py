"""Reading objects whose shape is not trusted: every accessor answers, none raises.

Whatever a server (or a test's garbage) sends, a wrong type reads as absent; server text
is folded into one short line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

MAX_REASON = 300


def d(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    """``value`` as one short line of text (a non-string reads as empty)."""
    if not isinstance(value, str):
        return ""
    line = " ".join(value.split())
    return line if len(line) <= MAX_REASON else line[:MAX_REASON - 3] + "..."


def number(value: Any) -> int | None:
    """``value`` when it is an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 time from the API, aware; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def event_time(event: dict[str, Any]) -> dt.datetime | None:
    """When an event last happened: core/v1 keeps it in one of several fields."""
    series = d(event.get("series"))
    for value in (event.get("lastTimestamp"), series.get("lastObservedTime"),
                  event.get("eventTime"), event.get("firstTimestamp"),
                  d(event.get("metadata")).get("creationTimestamp")):
        when = parse_time(value)
        if when:
            return when
    return None
