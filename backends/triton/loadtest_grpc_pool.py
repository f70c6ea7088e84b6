"""The gRPC side of the load test's senders: a pool of HTTP/2 connections
(:class:`~mlops_tui.backends.triton.loadtest_grpc.H2Connection`) with a timeout watchdog."""

from __future__ import annotations

import asyncio
import ssl
import time

from mlops_tui.backends.triton.loadtest_connect import open_connection
from mlops_tui.backends.triton.loadtest_grpc import (
    MAX_CONNECTIONS,
    H2Connection,
)


class GrpcH2Pool:
    """HTTP/2 connections to one server, a new one while every open one carries
    :data:`STREAMS_PER_CONNECTION` calls (up to :data:`MAX_CONNECTIONS`): the server reads
    each connection on one thread, and several spread the load as perf_analyzer's
    per-thread channels do.

    Args:
        host, port: the server.
        ssl_context: for TLS (ALPN h2), else None.
        block: the request header block (:func:`header_block`).
        message: the gRPC message (5-byte prefix + serialized request).
        timeout_s: requests older than this end as "timeout" (and are reset).
    """

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None,
                 block: bytes, message: bytes, timeout_s: float) -> None:
        self._host, self._port, self._ssl = host, port, ssl_context
        self._block, self._message, self._timeout = block, message, timeout_s
        self._conns: list[H2Connection] = []
        self._draining: list[H2Connection] = []
        self._connecting: asyncio.Future | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def _connection(self) -> H2Connection | str:
        conns = self._conns
        if any(not c.usable for c in conns):
            # a connection that got GOAWAY may still answer its calls: it drains apart
            self._draining += [c for c in conns if not c.usable and c.streams]
            conns = self._conns = [c for c in conns if c.usable]
        if conns:
            best = min(conns, key=lambda c: len(c.streams))
            if (len(best.streams) < best.max_streams or len(conns) >= MAX_CONNECTIONS
                    or self._connecting is not None):
                return best
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> H2Connection | str:
        conn = await open_connection(lambda: H2Connection(self._block, self._message),
                                     self._host, self._port, self._ssl, self._timeout)
        if isinstance(conn, str):
            return conn
        self._conns.append(conn)
        if self._watchdog is None:
            self._arm()
        return conn

    async def request(self) -> str | None:
        """One call: None when the status was OK, else the error kind."""
        conn = await self._connection()
        if isinstance(conn, str):
            return conn
        waiter = asyncio.get_running_loop().create_future()
        sid = conn.start(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            conn.end_stream(sid, "cancelled", reset=True)
            raise

    def _arm(self) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(
            min(self._timeout, 0.5), self._check)

    def _check(self) -> None:
        limit = time.monotonic() - self._timeout
        for conn in [c for c in self._draining if not c.streams]:
            conn.abort("cancelled")
        self._draining = [c for c in self._draining if c.streams]
        for conn in self._conns + self._draining:
            for sid in [s for s, st in conn.streams.items() if st.started < limit]:
                conn.end_stream(sid, "timeout", reset=True)
        self._arm()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._connecting is not None:
            self._connecting.cancel()
        for conn in self._conns + self._draining:
            conn.abort("cancelled")
        self._conns.clear()
        self._draining.clear()
