"""The load test's request path: one inference request encoded once, sent many times.

:func:`encode_request` turns the inputs into the bytes of one request (a serialized
``ModelInferRequest`` for gRPC; a whole HTTP/1.1 request using Triton's binary tensor
extension for HTTP) in the parent process. The senders here only send those bytes and
look at the status of the answer: no numpy, protobuf or JSON work per request.

- gRPC: unary ``ModelInfer`` calls on one HTTP/2 connection (``loadtest_grpc``): prepared
  frames out, only the ``grpc-status`` of each answer read back.
- HTTP: keep-alive connections driven by a small :class:`asyncio.Protocol` that reads the
  status line and skips the body by its length (``loadtest_http``): none of the header,
  response and body objects a general client builds per request, whose CPU would be taken
  from the server under test on a small machine.

Failures are returned as a kind ("timeout", "unavailable", "invalid", ...), never raised.
"""

from __future__ import annotations

import json
import ssl as ssl_module
import urllib.parse
from dataclasses import dataclass, field

from mlops_tui.backends.triton.loadtest_http import HttpPool
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint

GRPC_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"


@dataclass(frozen=True)
class WireRequest:
    """Everything a sender needs, picklable (it travels to worker processes).

    ``payload`` is the serialized ``ModelInferRequest`` (gRPC) or the whole HTTP request.
    ``headers`` (credentials) are hidden from ``repr``.
    """

    protocol: str
    address: str
    model: str
    version: str
    payload: bytes = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    ssl: bool = False
    timeout_s: float = 30.0


def tensor_bytes(tensor: InputTensor) -> bytes:
    """The raw bytes Triton expects for one input (BYTES: 4-byte length + data each)."""
    import numpy as np

    if tensor.datatype == "BYTES":
        from tritonclient.utils import serialize_byte_tensor

        return serialize_byte_tensor(np.asarray(tensor.array, dtype=np.object_)).item()
    return np.ascontiguousarray(tensor.array).tobytes()


def _check_header(name: str, value: str) -> None:
    bad = set("\r\n\0")
    if not name or bad & set(name) or ":" in name or bad & set(value):
        raise ValueError(f"headers: {name!r} is not a valid header (name or value)")


def encode_request(
    endpoint: TritonEndpoint,
    model: str,
    inputs: tuple[InputTensor, ...],
    *,
    version: str = "",
    timeout_s: float = 30.0,
) -> WireRequest:
    """Encode one inference request once, for :func:`make_sender`.

    Raises:
        ValueError: no inputs, an input that cannot be encoded, or a bad header.
    """
    if not inputs:
        raise ValueError("inputs: at least one input is needed")
    for name, value in endpoint.headers.items():
        _check_header(name, value)
    raw = [(t, tensor_bytes(t)) for t in inputs]
    if endpoint.protocol == "grpc":
        from tritonclient.grpc import service_pb2

        msg = service_pb2.ModelInferRequest(model_name=model, model_version=version)
        for tensor, data in raw:
            entry = msg.inputs.add(name=tensor.name, datatype=tensor.datatype)
            entry.shape.extend(int(d) for d in tensor.array.shape)
            msg.raw_input_contents.append(data)
        payload = msg.SerializeToString()
        headers = tuple((k.lower(), v) for k, v in endpoint.headers.items())
    else:
        payload = _http_request(endpoint, model, version, raw)
        headers = ()
    return WireRequest(
        protocol=endpoint.protocol,
        address=endpoint.address,
        model=model,
        version=version,
        payload=payload,
        headers=headers,
        ssl=endpoint.ssl,
        timeout_s=timeout_s,
    )


def model_path(model: str, version: str) -> str:
    path = "/v2/models/" + urllib.parse.quote(model, safe="")
    if version:
        path += "/versions/" + urllib.parse.quote(version, safe="")
    return path


def http_head(method: str, endpoint: TritonEndpoint, path: str, extra: dict[str, str]) -> bytes:
    """The head of an HTTP/1.1 request (request line and headers, blank line included)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {endpoint.address}"]
    for name, value in {**extra, **endpoint.headers}.items():
        _check_header(name, value)
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _http_request(
    endpoint: TritonEndpoint, model: str, version: str, raw: list[tuple[InputTensor, bytes]]
) -> bytes:
    header = {
        "inputs": [
            {
                "name": t.name,
                "shape": [int(d) for d in t.array.shape],
                "datatype": t.datatype,
                "parameters": {"binary_data_size": len(data)},
            }
            for t, data in raw
        ],
        # outputs come back as raw bytes: the server skips JSON-encoding them
        "parameters": {"binary_data_output": True},
    }
    head_json = json.dumps(header, separators=(",", ":")).encode()
    body = head_json + b"".join(data for _, data in raw)
    head = http_head(
        "POST",
        endpoint,
        model_path(model, version) + "/infer",
        {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(head_json)),
            "Content-Length": str(len(body)),
        },
    )
    return head + body


# --------------------------------------------------------------------------- senders


class GrpcSender:
    """Sends the encoded request as unary ``ModelInfer`` calls on one HTTP/2 connection
    (see ``loadtest_grpc``: grpcio's per-call cost would be measured with the server)."""

    def __init__(self, wire: WireRequest) -> None:
        from mlops_tui.backends.triton.loadtest_grpc import header_block
        from mlops_tui.backends.triton.loadtest_grpc_pool import GrpcH2Pool

        host, _, port = wire.address.rpartition(":")
        context = None
        if wire.ssl:
            context = ssl_module.create_default_context()
            context.set_alpn_protocols(["h2"])
        block = header_block(wire.address, GRPC_INFER_METHOD, wire.timeout_s,
                             "https" if wire.ssl else "http", wire.headers)
        message = b"\x00" + len(wire.payload).to_bytes(4, "big") + wire.payload
        self._pool = GrpcH2Pool(host.strip("[]") or "127.0.0.1", int(port), context, block,
                                message, wire.timeout_s)

    async def send(self) -> str | None:
        """One request; None when it worked, else the kind of failure."""
        return await self._pool.request()

    async def close(self) -> None:
        self._pool.close()


class HttpSender:
    """Sends the encoded HTTP request on a pool of keep-alive connections."""

    def __init__(self, wire: WireRequest) -> None:
        host, _, port = wire.address.rpartition(":")
        context = ssl_module.create_default_context() if wire.ssl else None
        self._pool = HttpPool(host.strip("[]") or "127.0.0.1", int(port), context, wire.timeout_s)
        self._payload = wire.payload

    async def send(self) -> str | None:
        """One request; None when it worked, else the kind of failure."""
        return await self._pool.request(self._payload)

    async def close(self) -> None:
        self._pool.close()


def make_sender(wire: WireRequest) -> GrpcSender | HttpSender:
    """The sender for ``wire.protocol``; call it in the event loop that will use it."""
    return GrpcSender(wire) if wire.protocol == "grpc" else HttpSender(wire)
