"""Test inputs for a model, built from its metadata: random, zeros, or read from a file.

``-1`` dimensions are resolved here: the leading one is the batch (``batch_size``) when
the model batches (``max_batch_size > 0``), every other one becomes
:data:`DYNAMIC_DIM`. Data read from a ``.npy`` or ``.json`` file is checked against the
metadata; a wrong name, shape or data type is a ``ValueError`` that names the input and
the shape it should have.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_tui.backends.triton.tensors import InputTensor, TensorSpec

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.backends.triton.results import ModelMetadata

#: the size given to a ``-1`` dimension that is not the batch
DYNAMIC_DIM = 1
#: largest input file read (a test input, not a data set)
MAX_FILE_BYTES = 64 * 1024 * 1024
_NUMPY_TYPES = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32",
    "UINT64": "uint64", "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
_LETTERS = (string.ascii_letters + string.digits).encode()


def numpy_dtype(datatype: str) -> np.dtype:
    """The numpy dtype Triton's ``datatype`` travels as (BYTES: object, BF16: ml_dtypes).

    Raises:
        ValueError: not a Triton data type.
    """
    import numpy as np

    if datatype == "BF16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    try:
        return np.dtype(_NUMPY_TYPES[datatype])
    except KeyError:
        raise ValueError(f"unknown Triton data type {datatype!r}") from None


def resolve_shape(spec: TensorSpec, *, batch_size: int = 1, max_batch_size: int = 0
                  ) -> tuple[int, ...]:
    """``spec.shape`` with every ``-1`` replaced (see the module docstring).

    Raises:
        ValueError: ``batch_size`` is below 1 or above the model's ``max_batch_size``.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if max_batch_size > 0 and batch_size > max_batch_size:
        raise ValueError(f"batch size {batch_size} is above the model's maximum "
                         f"{max_batch_size}")
    shape = list(spec.shape)
    if max_batch_size > 0 and shape and shape[0] == -1:
        shape[0] = batch_size
    return tuple(DYNAMIC_DIM if d < 0 else d for d in shape)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _generate(spec: TensorSpec, shape: tuple[int, ...], kind: str, rng: Any) -> np.ndarray:
    import numpy as np

    dtype = numpy_dtype(spec.datatype)
    if spec.datatype == "BYTES":
        count = int(np.prod(shape))
        if kind == "zeros":
            values = [b""] * count
        else:
            # one draw for every character, then cut into strings of 1-8 characters
            lengths = rng.integers(1, 9, size=count)
            letters = np.frombuffer(_LETTERS, dtype=np.uint8)
            text = letters[rng.integers(0, len(_LETTERS), lengths.sum())].tobytes()
            ends = np.cumsum(lengths)
            values = [text[end - n:end] for end, n in zip(ends, lengths, strict=True)]
        return np.array(values, dtype=object).reshape(shape)
    if kind == "zeros":
        return np.zeros(shape, dtype=dtype)
    if spec.datatype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        # small values: safe as token ids, class ids or indices into small tables
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.random(size=shape, dtype=np.float32).astype(dtype)


def _matches(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    if len(shape) != len(expected):
        return False
    return all(e < 0 or e == s for s, e in zip(shape, expected, strict=True))


def check_array(spec: TensorSpec, data: Any, *, max_batch_size: int = 0) -> np.ndarray:
    """``data`` (a numpy array or nested lists) as the input ``spec`` describes.

    A model that batches also takes one sample without the batch dimension (it is added).
    Numbers are converted only within their kind (ints to a wider int or a float, floats
    between widths); BYTES takes strings or bytes.

    Raises:
        ValueError: wrong shape or data type; the message names the input and the
            expected shape and type.
    """
    import numpy as np

    expected = spec.shape
    want = f"input {spec.name}: expected {spec.datatype} {_shape_text(expected)}"
    try:
        array = np.asarray(data, dtype=object if spec.datatype == "BYTES" else None)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{want}, got data numpy cannot shape ({exc})") from None
    if max_batch_size > 0 and len(expected) == array.ndim + 1 and expected[0] == -1:
        array = array[np.newaxis, ...]
    if not _matches(array.shape, expected):
        raise ValueError(f"{want}, got shape {_shape_text(array.shape)}")
    if max_batch_size > 0 and array.shape and array.shape[0] > max_batch_size:
        raise ValueError(f"{want}, got a batch of {array.shape[0]} (the model takes at most "
                         f"{max_batch_size})")
    if spec.datatype == "BYTES":
        flat = array.reshape(-1)
        if not all(isinstance(v, str | bytes) for v in flat):
            raise ValueError(f"{want}, got values that are not text")
        encoded = [v.encode() if isinstance(v, str) else v for v in flat]
        return np.array(encoded, dtype=object).reshape(array.shape)
    target = numpy_dtype(spec.datatype)
    if array.dtype.kind in "OUS" or not np.can_cast(array.dtype, target, "same_kind"):
        raise ValueError(f"{want}, got {array.dtype} values")
    return array.astype(target)


def _read_file(path: Path) -> Any:
    import numpy as np

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{path}: {size} bytes, larger than the {MAX_FILE_BYTES} allowed")
        if path.suffix == ".npy":
            try:
                return np.load(path, allow_pickle=False)
            except (ValueError, EOFError) as exc:  # garbage, truncated, or pickled objects
                raise ValueError(f"{path}: not a readable .npy file: {exc}") from None
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    raise ValueError(f"{path}: expected a .npy or .json file")


def _by_name(meta: ModelMetadata, data: Any, path: Path) -> dict[str, Any]:
    """The file's data keyed by input name (from every accepted layout)."""
    names = [s.name for s in meta.inputs]
    if isinstance(data, dict) and isinstance(data.get("inputs"), list):  # a KServe v2 body
        data = {str(i.get("name")): i for i in data["inputs"] if isinstance(i, dict)}
        data = {k: _kserve_data(v) for k, v in data.items()}
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"{path}: no input named {unknown[0]!r} (the model takes "
                             f"{', '.join(names)})")
        return data
    if len(names) == 1:
        return {names[0]: data}
    if isinstance(data, list) and len(data) == len(names):
        return dict(zip(names, data, strict=True))
    raise ValueError(f"{path}: the model takes {len(names)} inputs ({', '.join(names)}): "
                     f"give an object keyed by input name")


def _kserve_data(item: dict[str, Any]) -> Any:
    import numpy as np

    data, shape = item.get("data"), item.get("shape")
    if isinstance(shape, list) and isinstance(data, list):
        try:
            return np.asarray(data, dtype=object).reshape(shape).tolist()
        except ValueError:
            pass  # check_array reports the shape
    return data


def build_inputs(meta: ModelMetadata, source: Literal["random", "zeros"] | Path, *,
                 batch_size: int = 1, max_batch_size: int = 0,
                 seed: int | None = None) -> list[InputTensor]:
    """One tensor per input of ``meta``, ready for :meth:`TritonClient.infer`.

    Args:
        meta: the model's metadata (its inputs' names, types and shapes).
        source: ``"random"``, ``"zeros"``, or a ``.npy`` file (a one-input model) or
            ``.json`` file (``{"NAME": [[...]], ...}``, a KServe v2 body, or for one
            input a bare nested list).
        batch_size: rows in the batch dimension (generated inputs of a batching model).
        max_batch_size: the model's ``max_batch_size`` (0: it does not batch).
        seed: for reproducible random inputs.

    Returns:
        The inputs, in the metadata's order.

    Raises:
        ValueError: unreadable file, unknown or missing input, wrong shape or type.
    """
    import numpy as np

    if source in ("random", "zeros"):
        rng = np.random.default_rng(seed)
        return [
            InputTensor(spec.name, spec.datatype, _generate(
                spec, resolve_shape(spec, batch_size=batch_size,
                                    max_batch_size=max_batch_size), str(source), rng))
            for spec in meta.inputs
        ]
    path = Path(source)
    data = _read_file(path)
    if path.suffix == ".npy" and len(meta.inputs) != 1:
        raise ValueError(f"{path}: a .npy file holds one input, the model takes "
                         f"{len(meta.inputs)}: use a .json file keyed by input name")
    by_name = _by_name(meta, data, path)
    tensors = []
    for spec in meta.inputs:
        if spec.name not in by_name:
            raise ValueError(f"{path}: input {spec.name} missing (expected {spec.datatype} "
                             f"{_shape_text(spec.shape)})")
        array = check_array(spec, by_name[spec.name], max_batch_size=max_batch_size)
        tensors.append(InputTensor(spec.name, spec.datatype, array))
    return tensors
