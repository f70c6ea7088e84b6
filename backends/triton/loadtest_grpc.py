"""A minimal gRPC client for the load test: unary ``ModelInfer`` over one HTTP/2 connection.

grpcio's Python layers cost 200-450 microseconds of CPU per call on this 2-core machine
(grpc.aio, 1-16 calls in flight), taken from the server under test; this client costs
40-180 (benchmarks/bench_loadtest.py compares it with perf_analyzer). It writes each
request as two prepared frames (HEADERS with a header block encoded once, DATA with the
message encoded once; only the stream id changes) and reads only what it needs of the
answer: the ``grpc-status`` of the trailers. Header blocks from the server are decoded
with ``hpack`` (they must all be, in order, to keep its table in step); identical blocks
that leave the table unchanged are decoded once.

Speaks what a gRPC server needs: the connection preface and SETTINGS (with ACK), PING
replies, flow control both ways (large windows for answers; our DATA waits for the
server's window), GOAWAY and RST_STREAM. Anything malformed from the server is the error
kind "protocol" for the requests in flight and the connection is dropped; nothing raises.
"""

from __future__ import annotations

import asyncio
import struct
import time

from hpack import Decoder
from hpack.exceptions import HPACKError

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 5, 6, 7, 8, 9)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1
#: a frame larger than this (we never allow more than the default) is malformed
MAX_FRAME = 16384
#: open another connection when every one carries this many calls, up to MAX_CONNECTIONS
STREAMS_PER_CONNECTION = 64
MAX_CONNECTIONS = 16
#: gRPC status codes → error kind
GRPC_STATUS_KINDS = {
    1: "cancelled", 2: "server", 3: "invalid", 4: "timeout", 5: "not_found",
    6: "already_exists", 7: "forbidden", 8: "overloaded", 9: "failed_precondition",
    10: "aborted", 11: "out_of_range", 12: "unimplemented", 13: "server", 14: "unavailable",
    15: "data_loss", 16: "unauthorized",
}
#: RST_STREAM error codes → error kind
_RESET_KINDS = {7: "unavailable", 8: "cancelled", 11: "overloaded"}


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(
        ">I", stream) + payload


def _literal(name: str, value: str) -> bytes:
    """One HPACK field, literal without indexing, new name, no Huffman (any decoder)."""
    out = bytearray(b"\x00")
    for text in (name.encode("latin-1"), value.encode("latin-1")):
        n = len(text)
        if n < 127:
            out.append(n)
        else:
            out.append(127)
            n -= 127
            while n >= 128:
                out.append((n & 0x7F) | 0x80)
                n >>= 7
            out.append(n)
        out += text
    return bytes(out)


def header_block(authority: str, path: str, timeout_s: float, scheme: str,
                 metadata: tuple[tuple[str, str], ...]) -> bytes:
    """The request's HPACK header block, the same for every request."""
    fields = [(":method", "POST"), (":scheme", scheme), (":path", path),
              (":authority", authority), ("content-type", "application/grpc"),
              ("te", "trailers"), ("grpc-timeout", f"{max(1, int(timeout_s * 1000))}m"),
              *metadata]
    return b"".join(_literal(k, v) for k, v in fields)


class _Stream:
    __slots__ = ("waiter", "started", "status", "pending")

    def __init__(self, waiter: asyncio.Future, started: float) -> None:
        self.waiter = waiter
        self.started = started
        self.status: int | None = None
        self.pending = b""  # DATA still to send when the server's window opens


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection carrying many concurrent unary calls."""

    def __init__(self, block: bytes, message: bytes) -> None:
        self.transport: asyncio.Transport | None = None
        self.usable = True
        self.max_streams = STREAMS_PER_CONNECTION
        self.streams: dict[int, _Stream] = {}
        self._block = block
        self._message = message
        self._next_id = 1
        self._buf = b""
        self._decoder = Decoder()
        self._memo: dict[bytes, int | None] = {}
        self._fragment: tuple[int, int, bytes] | None = None  # stream, flags, block so far
        self._send_window = 65535
        self._peer_initial = 65535
        self._peer_frame = 16384
        self._received = 0
        self._stream_windows: dict[int, int] = {}
        self._out: list[bytes] = []

    # ---- connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        settings = struct.pack(">HIHI", 0x2, 0, 0x4, MAX_WINDOW)  # no push; big windows
        transport.write(PREFACE + _frame(SETTINGS, 0, 0, settings)  # type: ignore[attr-defined]
                        + _frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65535)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail_all("unavailable")

    def _fail_all(self, kind: str) -> None:
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            if not stream.waiter.done():
                stream.waiter.set_result(kind)

    def abort(self, kind: str) -> None:
        """Drop the connection; every request in flight ends with ``kind``."""
        self.usable = False
        self._fail_all(kind)
        if self.transport is not None:
            self.transport.abort()

    def end_stream(self, sid: int, kind: str | None, reset: bool = False) -> None:
        stream = self.streams.pop(sid, None)
        self._stream_windows.pop(sid, None)
        if stream is not None and not stream.waiter.done():
            stream.waiter.set_result(kind)
        if reset and stream is not None:  # never for a stream that already ended
            self._send(_frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))

    # ---- sending
    def _send(self, data: bytes, cork: bool = False) -> None:
        """Write frames, in order; with ``cork``, hold them to the end of this loop pass.

        Answers arrive several at a time and each wakes a caller that sends its next
        request: corked, they leave in one write (one system call, one wake-up of the
        server) instead of one each, which halves the client's CPU per request at 16 in
        flight. A lone request is written at once: nothing would join it.
        """
        if self._out:
            self._out.append(data)
        elif cork:
            self._out.append(data)
            asyncio.get_running_loop().call_soon(self._write_out)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _write_out(self) -> None:
        out, self._out = self._out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def start(self, waiter: asyncio.Future) -> int:
        """Send one request; ``waiter`` gets None or the error kind."""
        sid = self._next_id
        self._next_id += 2
        if self._next_id > MAX_STREAM_ID:
            self.usable = False
        stream = _Stream(waiter, time.monotonic())
        self.streams[sid] = stream
        block = self._block
        if len(block) <= self._peer_frame:
            out = [_frame(HEADERS, END_HEADERS, sid, block)]
        else:
            parts = [block[i:i + self._peer_frame] for i in range(0, len(block),
                                                                  self._peer_frame)]
            out = [_frame(HEADERS, 0, sid, parts[0])]
            out += [_frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, sid, p)
                    for i, p in enumerate(parts[1:], start=1)]
        message = self._message
        if len(message) <= min(self._send_window, self._peer_initial, self._peer_frame):
            self._send_window -= len(message)
            out.append(_frame(DATA, END_STREAM, sid, message))
        else:
            self._stream_windows[sid] = self._peer_initial
            stream.pending = message
        self._send(b"".join(out), cork=len(self.streams) > 1)
        if stream.pending:
            self._flush()
        return sid

    def _flush(self) -> None:
        """Send the DATA that waits for window, as far as the windows allow."""
        for sid, stream in list(self.streams.items()):
            while stream.pending and self._send_window > 0:
                room = min(self._send_window, self._stream_windows.get(sid, 0),
                           self._peer_frame)
                if room <= 0:
                    break
                chunk, stream.pending = stream.pending[:room], stream.pending[room:]
                self._send_window -= len(chunk)
                self._stream_windows[sid] -= len(chunk)
                flags = 0 if stream.pending else END_STREAM
                self._send(_frame(DATA, flags, sid, chunk))

    # ---- receiving
    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        pos, end = 0, len(buf)
        try:
            while end - pos >= 9:
                length = int.from_bytes(buf[pos:pos + 3], "big")
                if length > MAX_FRAME:
                    raise ValueError("frame too large")
                if end - pos - 9 < length:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
                self._frame(kind, flags, sid, buf[pos + 9:pos + 9 + length])
                pos += 9 + length
        except (ValueError, HPACKError, IndexError, struct.error):
            self.abort("protocol")
            return
        self._buf = buf[pos:]

    def _frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if self._fragment is not None and kind != CONTINUATION:
            raise ValueError("header block interrupted")
        if kind == DATA:
            self._received += len(payload)
            if self._received > MAX_WINDOW // 2:  # give the connection window back
                self._send(_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", self._received)))
                self._received = 0
            if flags & END_STREAM:
                self.end_stream(sid, "protocol")  # a gRPC answer ends with trailers
        elif kind == HEADERS:
            if flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            if flags & PRIORITY:
                payload = payload[5:]
            if flags & END_HEADERS:
                self._headers(sid, flags, payload)
            else:
                self._fragment = (sid, flags, payload)
        elif kind == CONTINUATION:
            if self._fragment is None or self._fragment[0] != sid:
                raise ValueError("unexpected CONTINUATION")
            first_sid, first_flags, block = self._fragment
            self._fragment = (sid, first_flags, block + payload)
            if flags & END_HEADERS:
                self._fragment = None
                self._headers(sid, first_flags, block + payload)
        elif kind == SETTINGS:
            if not flags & ACK:
                self._settings(payload)
        elif kind == PING:
            if not flags & ACK:
                self._send(_frame(PING, ACK, 0, payload))
        elif kind == WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if sid == 0:
                self._send_window += increment
            elif sid in self._stream_windows:
                self._stream_windows[sid] += increment
            self._flush()
        elif kind == RST_STREAM:
            code = int.from_bytes(payload[:4], "big")
            self.end_stream(sid, _RESET_KINDS.get(code, "protocol"))
        elif kind == GOAWAY:
            last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            self.usable = False
            for other in [s for s in self.streams if s > last]:
                self.end_stream(other, "unavailable")
        elif kind == PUSH_PROMISE:
            raise ValueError("push refused in SETTINGS")

    def _settings(self, payload: bytes) -> None:
        for i in range(0, len(payload) - len(payload) % 6, 6):
            key, value = struct.unpack_from(">HI", payload, i)
            if key == 0x4:
                delta = value - self._peer_initial
                self._peer_initial = value
                for sid in self._stream_windows:
                    self._stream_windows[sid] += delta
            elif key == 0x5:
                self._peer_frame = value
            elif key == 0x3:  # the server's limit on calls in flight on one connection
                self.max_streams = max(1, min(value, STREAMS_PER_CONNECTION))
        self._send(_frame(SETTINGS, ACK, 0, b""))
        self._flush()

    def _headers(self, sid: int, flags: int, block: bytes) -> None:
        status = self._status_of(block)
        stream = self.streams.get(sid)
        if stream is not None and status is not None:
            stream.status = status
        if flags & END_STREAM:
            if stream is None or stream.status is None:
                self.end_stream(sid, "protocol")
            else:
                self.end_stream(sid, GRPC_STATUS_KINDS.get(stream.status, "server")
                                if stream.status else None)

    def _status_of(self, block: bytes) -> int | None:
        """The block's grpc-status (None when it has none). Every block is decoded, in
        order; a block seen before is not decoded again while the table is unchanged."""
        if block in self._memo:
            return self._memo[block]
        entries = self._decoder.header_table.dynamic_entries
        before = (len(entries), id(entries[0]) if entries else 0)
        status = None
        for name, value in self._decoder.decode(block, raw=True):
            if name == b"grpc-status":
                status = int(value)
        if (len(entries), id(entries[0]) if entries else 0) != before:
            self._memo.clear()  # the table moved: what a block means may have changed
        elif len(self._memo) < 64:
            self._memo[block] = status
        return status
