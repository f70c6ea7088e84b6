"""The live progress line on stderr: one carriage-return-updated line, only on a terminal."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

BAR_WIDTH = 20
SPINNER = "|/-\\"
MIN_REDRAW_S = 0.1  # a fast stream of events must not flood the terminal


def bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}%"


class LiveLine:
    """Draws and clears one status line; every write is cut to the terminal's width."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False
        self._last = 0.0
        self._frame = 0

    def show(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < MIN_REDRAW_S:
            return
        self._last = now
        self._frame += 1
        width = max(10, shutil.get_terminal_size((80, 24)).columns - 1)
        line = f"{SPINNER[self._frame % len(SPINNER)]} {text}"[:width]
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
