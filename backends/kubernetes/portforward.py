"""Port-forward to a pod through the API server, as ``kubectl port-forward`` does.

A :class:`PodPortForward` listens on 127.0.0.1; every connection accepted there opens its
own WebSocket to ``pods/NAME/portforward?ports=PORT`` (subprotocol ``v4.channel.k8s.io``)
with the client's own credentials and TLS settings (:mod:`.dialer`), and bytes are pumped
both ways a message at a time. Framing: every message starts with its channel byte, 0 for
data and 1 for errors; the first message of each channel carries the port (2 bytes, little
endian), which is dropped. Text on the error channel ends that connection with a reset and
lands in :attr:`PodPortForward.errors` and the log.

The v4 protocol cannot half-close: when the local client ends its side, the pod is not
told. The answer still flows back until the pod closes or stays quiet for
:data:`LINGER_S`, then the stream ends (kubectl's SPDY stream would pass the EOF on).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType

from mlops_tui.backends.errors import BackendError, Invalid
from mlops_tui.backends.kubernetes.dialer import StreamDialer
from mlops_tui.backends.kubernetes.forward_checks import (
    check_may_forward,
    check_running,
    explain_refusal,
)
from mlops_tui.backends.kubernetes.transport import Transport

log = logging.getLogger(__name__)

DATA, ERROR = 0, 1
PORT_PREFIX = 2  # bytes of port number that open each channel
READ_CHUNK = 256 * 1024
LINGER_S = 2.0
_DATA_BYTE = bytes([DATA])


async def open_port_forward(transport: Transport, pod: dict[str, Any], port: int,
                            on_close: Callable[[PodPortForward], None] | None = None
                            ) -> PodPortForward:
    """Check that ``pod`` (the object as read) may be forwarded to, then listen.

    Raises:
        Invalid: ``port`` is not a TCP port.
        Forbidden: the user may not port-forward to pods in its namespace.
        ConnectionFailed: the pod is not running.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise Invalid(f"port {port!r} is not a TCP port (1-65535)")
    meta = pod.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    await asyncio.to_thread(check_may_forward, transport, namespace, name)
    check_running(pod)
    dialer = StreamDialer(transport, lambda status: explain_refusal(
        transport, namespace, name, status))
    forward = PodPortForward(dialer, namespace, name, port, on_close)
    await forward.start()
    return forward


class PodPortForward:
    """One local port forwarded to one port of one pod (implements ``PortForward``).

    Attributes:
        local_port: the port on 127.0.0.1 (0 until :meth:`start`).
        description: ``"NS/POD:PORT via port-forward"``.
        errors: the last errors of its connections, newest last (for a UI to show).
        opened: connections accepted so far; ``bytes_in``/``bytes_out``: bytes from the pod
            and to it, over all connections.
    """

    def __init__(self, dialer: StreamDialer, namespace: str, pod: str, port: int,
                 on_close: Callable[[PodPortForward], None] | None = None) -> None:
        self.namespace, self.pod, self.port = namespace, pod, port
        self.local_port = 0
        self.description = f"{namespace}/{pod}:{port} via port-forward"
        self.errors: collections.deque[str] = collections.deque(maxlen=20)
        self.opened = 0
        self.bytes_in = self.bytes_out = 0
        self._dialer = dialer
        self._on_close = on_close
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<PodPortForward 127.0.0.1:{self.local_port} -> {self.description}>"

    @property
    def active(self) -> int:
        """Connections open now."""
        return len(self._handlers)

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0,
                                                  limit=4 * READ_CHUNK)
        self.local_port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, end every stream and wait until they are gone."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await self._dialer.close()
        if self._on_close is not None:
            self._on_close(self)

    # -- one connection ---------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._closed or task is None:
            writer.transport.abort()
            return
        self._handlers.add(task)
        self.opened += 1
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:  # close(): the stream is cut, which is a failure
            _reset(writer)
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ws = await self._dialer.dial(self.namespace, self.pod, self.port)
        except BackendError as exc:
            self._record(str(exc))
            _reset(writer)
            return
        except Exception as exc:  # noqa: BLE001 - one failed stream must not end the forward
            self._record(f"cannot open a stream: {exc.__class__.__name__}")  # text may leak
            _reset(writer)
            return
        error = ""
        try:
            error = await self._pump(reader, writer, ws)
        finally:
            with contextlib.suppress(Exception):  # best effort: the stream may be gone
                await ws.close()
        if error:
            self._record(error)
            _reset(writer)
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    ws: ClientWebSocketResponse) -> str:
        """Copy both ways until either side ends; returns the error channel's text."""
        error = bytearray()
        moved = [0]  # messages from the pod, to tell a quiet stream from a busy one
        up = asyncio.create_task(self._to_pod(reader, ws))
        down = asyncio.create_task(self._from_pod(ws, writer, error, moved))
        try:
            await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
            if not down.done() and up.exception() is None:
                while not down.done():  # the client ended its side: let the answer finish
                    before = moved[0]
                    await asyncio.wait((down,), timeout=LINGER_S)
                    if moved[0] == before:
                        break
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
        return error.decode("utf-8", "replace").strip()

    async def _to_pod(self, reader: asyncio.StreamReader, ws: ClientWebSocketResponse) -> None:
        while data := await reader.read(READ_CHUNK):
            await ws.send_bytes(_DATA_BYTE + data)
            self.bytes_out += len(data)

    async def _from_pod(self, ws: ClientWebSocketResponse, writer: asyncio.StreamWriter,
                        error: bytearray, moved: list[int]) -> None:
        prefix = {DATA: PORT_PREFIX, ERROR: PORT_PREFIX}
        while True:
            msg = await ws.receive()
            if msg.type is not WSMsgType.BINARY:
                if msg.type is WSMsgType.TEXT:  # a base64 protocol we did not ask for
                    error += b"the API server answered in text frames"
                elif msg.type is WSMsgType.ERROR:  # a broken frame, a message over the limit
                    error += f"the stream broke: {msg.data.__class__.__name__}".encode()
                return  # CLOSE, CLOSED
            moved[0] += 1
            data = msg.data
            if not data:
                continue
            channel, body = data[0], memoryview(data)[1:]
            skip = prefix.get(channel, 0)
            if skip:
                prefix[channel] = skip - min(skip, len(body))
                body = body[skip:]
            if not body:
                continue
            if channel == DATA:
                writer.write(body)
                self.bytes_in += len(body)
                await writer.drain()
            elif channel == ERROR and len(error) < 4096:
                error += body

    def _record(self, message: str) -> None:
        """Keep and log the reason a connection failed (never a credential: these come from
        the API server's answers and the pod's error channel)."""
        self.errors.append(message)
        log.warning("port-forward %s: %s", self.description, message)


def _reset(writer: asyncio.StreamWriter) -> None:
    """End a local connection with a TCP reset, so its client sees a failure and not a
    clean end of stream it could mistake for a complete answer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
