"""What the Triton client returns, and the pure parsers from Triton's JSON to those values.

The parsers take the HTTP JSON bodies or the gRPC answers converted to JSON
(``as_json=True``: the same field names, 64-bit numbers as strings), so both protocols
share them. A body of the wrong shape raises ``KeyError``/``TypeError``/``ValueError``;
the client turns that into "not a Triton server".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.triton.preview import describe_tensor, preview_array
from mlops_tui.backends.triton.tensors import TensorSpec

if TYPE_CHECKING:
    import numpy as np

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: longest server message kept in an error
MAX_MESSAGE_CHARS = 500


def plain(text: str) -> str:
    """A server's text made safe for one line: control characters dropped, length capped."""
    text = _CONTROL.sub("", text).replace("\n", " ").strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """A model's name, versions, platform and tensors, as ``/v2/models/NAME`` reports."""

    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True, slots=True)
class ModelStats:
    """Inference statistics of one model version since the server started.

    ``avg_queue_us`` / ``avg_compute_us`` are per successful request (0 when none).
    """

    name: str
    version: str
    inference_count: int  # items (a batch of 8 counts 8)
    execution_count: int  # model executions (batches)
    success_count: int
    failure_count: int
    avg_queue_us: float
    avg_compute_us: float
    last_inference_ms: int  # unix time in ms, 0 if never


@dataclass(frozen=True, slots=True)
class RepositoryModel:
    """One entry of the repository index (``state``: READY, UNAVAILABLE, LOADING, "")."""

    name: str
    version: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class OutputTensor:
    """One output of an inference."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray

    def preview(self, max_items: int = 8) -> str:
        """``NAME FP32[1,4] = [0.5, 1, 2, 3]`` (plain text, at most ``max_items`` values)."""
        return describe_tensor(self.name, self.datatype, self.shape, self.array, max_items)

    def values(self, max_items: int = 8) -> str:
        """Only the values part of :meth:`preview`."""
        return preview_array(self.array, max_items)


@dataclass(frozen=True, slots=True)
class InferResult:
    """Every output of one inference and the round-trip time the client measured."""

    model: str
    outputs: tuple[OutputTensor, ...]
    latency_s: float

    def output(self, name: str) -> OutputTensor:
        """The output called ``name``.

        Raises:
            KeyError: the model returned no such output.
        """
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(name)


_INT64_TYPES = (3, 4, 6, 16, 18)  # FieldDescriptor TYPE_INT64/UINT64/FIXED64/SFIXED64/SINT64


def config_as_dict(message: Any) -> dict[str, Any]:
    """A gRPC ``ModelConfig`` as the HTTP API gives it: 64-bit numbers as numbers.

    protobuf's JSON mapping writes int64 (``dims``, ``reshape``, version numbers) as
    strings; the descriptor says which fields those are.
    """
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(message, preserving_proto_field_name=True)
    _fix_int64(message.DESCRIPTOR, data)
    return data


def _fix_int64(descriptor: Any, data: dict[str, Any]) -> None:
    for key, value in data.items():
        field = descriptor.fields_by_name.get(key)
        if field is None:
            continue
        if field.type in _INT64_TYPES:
            data[key] = [int(v) for v in value] if isinstance(value, list) else int(value)
        elif field.message_type is not None:
            inner = field.message_type
            if inner.GetOptions().map_entry:  # map<string, Message>: fix each value
                value_field = inner.fields_by_name["value"]
                if value_field.message_type is not None:
                    for item in value.values():
                        _fix_int64(value_field.message_type, item)
                elif value_field.type in _INT64_TYPES:
                    data[key] = {k: int(v) for k, v in value.items()}
                continue
            for item in value if isinstance(value, list) else [value]:
                _fix_int64(inner, item)


def _tensor(body: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=plain(str(body["name"])),
        datatype=str(body["datatype"]),
        shape=tuple(int(d) for d in body.get("shape", ())),
    )


def parse_model_metadata(body: dict[str, Any]) -> ModelMetadata:
    """``/v2/models/NAME`` (or gRPC ModelMetadata as JSON) → :class:`ModelMetadata`."""
    return ModelMetadata(
        name=plain(str(body["name"])),
        versions=tuple(str(v) for v in body.get("versions", ())),
        platform=plain(str(body.get("platform", ""))),
        inputs=tuple(_tensor(t) for t in body.get("inputs", ())),
        outputs=tuple(_tensor(t) for t in body.get("outputs", ())),
    )


def _list_field(body: Any, key: str) -> list[Any]:
    """``body[key]``, a list; ``{}`` is an empty list (gRPC's JSON leaves empty lists out),
    any other object without ``key`` is not Triton's answer."""
    if body == {}:
        return []
    value = body[key]
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def _duration(stats: dict[str, Any], key: str) -> tuple[int, int]:
    entry = stats.get(key) or {}
    return int(entry.get("count", 0)), int(entry.get("ns", 0))


def parse_statistics(body: dict[str, Any]) -> list[ModelStats]:
    """``/v2/models/stats`` (or gRPC ModelStatistics as JSON) → one entry per version."""
    result = []
    for model in _list_field(body, "model_stats"):
        stats = model.get("inference_stats") or {}
        success, _ = _duration(stats, "success")
        failure, _ = _duration(stats, "fail")
        queued, queue_ns = _duration(stats, "queue")
        computed, infer_ns = _duration(stats, "compute_infer")
        compute_ns = infer_ns + _duration(stats, "compute_input")[1] + _duration(
            stats, "compute_output")[1]
        result.append(ModelStats(
            name=plain(str(model["name"])),
            version=str(model.get("version", "")),
            inference_count=int(model.get("inference_count", 0)),
            execution_count=int(model.get("execution_count", 0)),
            success_count=success,
            failure_count=failure,
            avg_queue_us=queue_ns / queued / 1000 if queued else 0.0,
            avg_compute_us=compute_ns / computed / 1000 if computed else 0.0,
            last_inference_ms=int(model.get("last_inference", 0)),
        ))
    return result


def parse_repository_index(body: Any) -> list[RepositoryModel]:
    """``/v2/repository/index`` (a list) or gRPC's ``{"models": [...]}`` → entries."""
    entries = _list_field(body, "models") if isinstance(body, dict) else body
    if not isinstance(entries, list):
        raise TypeError("repository index is not a list")
    return [
        RepositoryModel(
            name=plain(str(e["name"])),
            version=str(e.get("version", "")),
            state=plain(str(e.get("state", ""))),
            reason=plain(str(e.get("reason", ""))),
        )
        for e in entries
    ]
