"""Values shared by the Triton client, the input generator and the load test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # numpy loads only with the Triton features, never at start-up
    import numpy as np

Protocol = Literal["http", "grpc"]


@dataclass(frozen=True, slots=True)
class TritonEndpoint:
    """Where a Triton server answers.

    ``address`` is ``host:port`` (no scheme), as tritonclient takes it: the HTTP port
    (8000) for ``http``, the gRPC port (8001) for ``grpc``. ``headers`` go with every call
    (a bearer token) and are hidden from ``repr``: they must never reach a log line.
    """

    address: str
    protocol: Protocol = "http"
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    ssl: bool = False
    description: str = ""  # for the screen: "triton/resnet-7d9f… via port-forward"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output as the model's metadata declares it (-1: any size)."""

    name: str
    datatype: str  # Triton's names: FP32, INT64, BYTES, ...
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class InputTensor:
    """One input with its data, ready to send (shape taken from ``array``)."""

    name: str
    datatype: str
    array: np.ndarray
