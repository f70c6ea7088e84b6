"""A minimal HTTP/1.1 keep-alive client for the load test: status line in, body skipped.

Each :class:`_Connection` carries one request at a time (no pipelining): it writes bytes
prepared once and resolves a future with the response's status code as soon as the body
(``Content-Length`` or chunked) has been read, or with an error kind when the connection
fails. A :class:`HttpPool` reuses idle connections and opens new ones on demand; a
watchdog aborts requests older than the timeout (one timer per pool, not per request).

Answers are hostile input: an oversized or malformed head is a "protocol" error and the
connection is dropped, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from mlops_tui.backends.triton.loadtest_connect import open_connection

#: a response head larger than this is not Triton's
MAX_HEAD_BYTES = 64 * 1024
#: the most connections one pool opens (rate mode against a stalled server)
MAX_CONNECTIONS = 4096
_STATUS_KINDS = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 408: "timeout", 429: "overloaded", 503: "unavailable", 504: "timeout"}


def status_kind(status: int) -> str | None:
    """None for a 2xx status, else the error kind."""
    if 200 <= status < 300:
        return None
    return _STATUS_KINDS.get(status, "server" if status >= 500 else f"http_{status}")


def _chunked_end(buf: bytes, start: int) -> int:
    """Where a chunked body starting at ``start`` ends, -1 if incomplete, -2 if malformed."""
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return -1
        try:
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
        except ValueError:
            return -2
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # trailers, then a blank line
            return -1 if end < 0 else end + 4
        pos = eol + 2 + size + 2
        if pos > len(buf):
            return -1


class _Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`request` sends and waits for the status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.started = 0.0
        self.usable = True
        self._buf = b""
        self._left = -1  # body bytes still to skip; -1: head not read yet
        self._status = 0
        self._chunked = False
        self._head_end = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail("unavailable")

    def fail(self, kind: str) -> None:
        """End the request in flight with ``kind`` and drop the connection."""
        self.usable = False
        if self.transport is not None:
            self.transport.abort()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(kind)

    def _done(self, status: int) -> None:
        self._buf, self._left = b"", -1
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(status)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: the server talks out of turn
            self.fail("protocol")
            return
        if self._left > 0:  # the rest of a long body
            self._left -= len(data)
            if self._left <= 0:
                self._done(self._status) if self._left == 0 else self.fail("protocol")
            return
        buf = self._buf + data if self._buf else data
        if self._chunked:
            self._chunk(buf)
            return
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self._buf = buf
            if len(buf) > MAX_HEAD_BYTES:
                self.fail("protocol")
            return
        head = buf[:end].lower()
        try:
            if not head.startswith(b"http/1."):
                raise ValueError
            self._status = int(head[9:12])
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else len(head)])
            elif b"\r\ntransfer-encoding: chunked" in head:
                length = -1
            else:
                raise ValueError
        except ValueError:
            self.fail("protocol")
            return
        if b"\r\nconnection: close" in head:
            self.usable = False
        if length < 0:
            self._chunked, self._head_end = True, end + 4
            self._chunk(buf)
            return
        rest = len(buf) - end - 4
        if rest == length:
            self._done(self._status)
        elif rest < length:
            self._buf, self._left = b"", length - rest
        else:  # bytes beyond the answer: nothing was pipelined
            self.fail("protocol")

    def _chunk(self, buf: bytes) -> None:
        end = _chunked_end(buf, self._head_end)
        if end == -2 or (end > 0 and end != len(buf)):
            self.fail("protocol")
        elif end == -1:
            self._buf = buf
            if len(buf) > MAX_HEAD_BYTES * 1024:
                self.fail("protocol")
        else:
            self._chunked = False
            self._done(self._status)

    async def request(self, payload: bytes) -> int | str:
        """Send ``payload``; the status code, or an error kind."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.started = time.monotonic()
        self.transport.write(payload)
        try:
            return await self.waiter
        except asyncio.CancelledError:
            self.fail("cancelled")  # the answer would arrive to the next request
            raise


class HttpPool:
    """Keep-alive connections to one host; :meth:`request` never raises for the network.

    Args:
        host, port: where to connect.
        ssl_context: for https, else None.
        timeout_s: a request older than this is aborted with kind "timeout".
    """

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                 timeout_s: float) -> None:
        self._host, self._port, self._ssl = host, port, ssl_context
        self._timeout = timeout_s
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._watchdog: asyncio.TimerHandle | None = None

    async def _connect(self) -> _Connection | str:
        return await open_connection(_Connection, self._host, self._port, self._ssl,
                                     self._timeout)

    async def request(self, payload: bytes) -> str | None:
        """One request on an idle or new connection: None when it answered 2xx, else the
        error kind."""
        if self._idle:
            conn: _Connection | str = self._idle.pop()
        elif len(self._busy) >= MAX_CONNECTIONS:
            return "overloaded"
        else:
            conn = await self._connect()
            if isinstance(conn, str):
                return conn
            if self._watchdog is None:
                self._arm()
        self._busy.add(conn)
        try:
            answer = await conn.request(payload)
        finally:
            self._busy.discard(conn)
        if conn.usable:
            self._idle.append(conn)
        return answer if isinstance(answer, str) else status_kind(answer)

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(min(self._timeout, 0.5), self._check)

    def _check(self) -> None:
        limit = time.monotonic() - self._timeout
        for conn in [c for c in self._busy if c.started < limit]:
            conn.fail("timeout")
        self._arm()

    def close(self) -> None:
        """Abort every connection (requests in flight end as "cancelled")."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for conn in [*self._idle, *self._busy]:
            with contextlib.suppress(Exception):
                conn.fail("cancelled")
        self._idle.clear()
