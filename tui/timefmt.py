"""Wall-clock times as the screens show them.

k9s shows local time, and so does this app by default. The zone is injectable: the app
carries a ``tz`` (``None``: the local zone), and tests give it UTC, so what a screen shows
under a frozen clock is the same in every ``TZ``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from textual.dom import DOMNode


def clock_text(epoch: float, tz: tzinfo | None = None) -> str:
    """``HH:MM:SS`` of ``epoch`` in ``tz`` (``None``: the local zone)."""
    return datetime.fromtimestamp(epoch, tz).strftime("%H:%M:%S")


def display_tz(node: DOMNode) -> tzinfo | None:
    """The zone the app of ``node`` shows times in (its ``tz`` attribute; None: local)."""
    try:
        return getattr(node.app, "tz", None)
    except Exception:  # no active app (a widget tested alone): local time
        return None
