"""Container logs: a blocking stream read in a thread, handed to asyncio line by line."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.kubernetes.transport import Transport, iter_lines

_END = object()


def cap_line(line: bytes, limit: int) -> str:
    """Decode one log line, cutting very long ones so a runaway line can't eat memory."""
    if limit and len(line) > limit:
        return line[:limit].decode("utf-8", "replace") + f" …[{len(line) - limit} bytes cut]"
    return line.decode("utf-8", "replace")


async def stream_logs(transport: Transport, path: str, query: list[tuple[str, Any]],
                      line_max: int, follow: bool) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=10_000)
    stop = threading.Event()
    holder: dict[str, Any] = {}

    def put(item: Any) -> None:
        # the reader may be gone with its loop (an abandoned stream): then nobody listens
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            resp = transport.open("GET", path, query=query, accept="*/*",
                                  read_timeout=None if follow else transport.timeout * 3)
            holder["resp"] = resp
            try:
                for line in iter_lines(resp, chunk=8192):
                    if stop.is_set():
                        break
                    put(cap_line(line, line_max))
            finally:
                # a stream left half-read must close its connection (the server then stops
                # sending); only a finished one may go back to the pool
                if stop.is_set():
                    resp.close()
                else:
                    resp.release_conn()
        except BackendError as exc:
            put(exc)
        except Exception as exc:  # noqa: BLE001 - a dropped stream ends the log, not the app
            if not stop.is_set():
                put(BackendError(f"log stream ended: {exc.__class__.__name__}"))
        finally:
            put(_END)

    thread = threading.Thread(target=pump, daemon=True, name="log-stream")
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BackendError):
                raise item
            yield item
    finally:
        stop.set()
        resp = holder.get("resp")
        if resp is not None:
            with contextlib.suppress(Exception):  # best effort on a closing socket
                resp.shutdown()
