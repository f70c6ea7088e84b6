"""Test inputs built from model metadata: generated (every Triton type), or read from .npy
and .json files and checked against the metadata. Pure: no server (the client tests send
generated inputs to the real tritonserver)."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.triton import inputs as inputs_module
from mlops_tui.backends.triton.inputs import build_inputs, numpy_dtype, resolve_shape
from mlops_tui.backends.triton.results import ModelMetadata
from mlops_tui.backends.triton.tensors import TensorSpec

ALL_TYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BF16", "BYTES"]


def meta_of(*inputs: TensorSpec) -> ModelMetadata:
    return ModelMetadata("m", ("1",), "python", tuple(inputs), ())


IMAGE = meta_of(TensorSpec("INPUT__0", "FP32", (-1, 4)))
TWO = meta_of(TensorSpec("VALUES", "FP32", (-1,)), TensorSpec("OFFSET", "INT64", (2,)))


@pytest.mark.parametrize("datatype", ALL_TYPES)
def test_every_type_random_and_zeros(datatype: str) -> None:
    meta = meta_of(TensorSpec("X", datatype, (-1, 3, -1)))
    (random,) = build_inputs(meta, "random", batch_size=2, max_batch_size=4, seed=1)
    (zeros,) = build_inputs(meta, "zeros", batch_size=2, max_batch_size=4)
    for tensor in (random, zeros):
        assert tensor.name == "X" and tensor.datatype == datatype
        assert tensor.array.shape == (2, 3, 1) and tensor.array.dtype == numpy_dtype(datatype)
    if datatype == "BYTES":
        assert all(isinstance(v, bytes) and 1 <= len(v) <= 8 for v in random.array.flat)
        assert all(v == b"" for v in zeros.array.flat)
    else:
        assert not zeros.array.astype(np.float64).any()


def test_dtypes() -> None:
    assert numpy_dtype("FP16") == np.float16 and numpy_dtype("BOOL") == np.bool_
    assert numpy_dtype("BF16") == np.dtype(ml_dtypes.bfloat16)
    assert numpy_dtype("BYTES") == np.object_
    with pytest.raises(ValueError, match="unknown Triton data type 'FP8X'"):
        numpy_dtype("FP8X")


def test_random_is_reproducible_with_a_seed() -> None:
    first = build_inputs(IMAGE, "random", seed=5)[0].array
    assert np.array_equal(first, build_inputs(IMAGE, "random", seed=5)[0].array)
    assert not np.array_equal(first, build_inputs(IMAGE, "random", seed=6)[0].array)


def test_dynamic_dims() -> None:
    spec = TensorSpec("X", "FP32", (-1, -1, 4))
    assert resolve_shape(spec, batch_size=3, max_batch_size=8) == (3, 1, 4)
    assert resolve_shape(spec, batch_size=3, max_batch_size=0) == (1, 1, 4)  # no batch dim
    assert resolve_shape(TensorSpec("X", "FP32", ()), max_batch_size=8) == ()
    with pytest.raises(ValueError, match="batch size 9 is above the model's maximum 8"):
        resolve_shape(spec, batch_size=9, max_batch_size=8)
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        build_inputs(IMAGE, "zeros", batch_size=0)


def test_two_inputs_generated_in_metadata_order() -> None:
    values, offset = build_inputs(TWO, "random", seed=2)
    assert (values.name, values.array.shape, values.array.dtype) == ("VALUES", (1,), np.float32)
    assert (offset.name, offset.array.shape, offset.array.dtype) == ("OFFSET", (2,), np.int64)


# ------------------------------------------------------------------ .npy files


def test_npy_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.arange(8, dtype=np.float64).reshape(2, 4))
    (tensor,) = build_inputs(IMAGE, path, max_batch_size=8)
    assert tensor.array.dtype == np.float32 and tensor.array.shape == (2, 4)
    np.save(path, np.arange(4, dtype=np.int32))  # one sample: the batch dim is added
    assert build_inputs(IMAGE, path, max_batch_size=8)[0].array.shape == (1, 4)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 5), np.float32), r"input INPUT__0: expected FP32 \[-1, 4\], got shape "
                                       r"\[2, 5\]"),
        (np.zeros((2, 4), np.complex64), r"input INPUT__0: expected FP32 \[-1, 4\], got "
                                         r"complex64 values"),
        (np.array([["a", "b", "c", "d"]]), r"expected FP32 \[-1, 4\], got <U1 values"),
        (np.zeros((9, 4), np.float32), r"got a batch of 9 \(the model takes at most 8\)"),
    ],
)
def test_npy_checked_against_metadata(tmp_path: Path, array, message: str) -> None:
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(ValueError, match=message):
        build_inputs(IMAGE, tmp_path / "x.npy", max_batch_size=8)


def test_npy_float_into_int_input_refused(tmp_path: Path) -> None:
    meta = meta_of(TensorSpec("IDS", "INT64", (-1, 3)))
    np.save(tmp_path / "x.npy", np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"input IDS: expected INT64 \[-1, 3\], got float32"):
        build_inputs(meta, tmp_path / "x.npy")


def test_bad_npy_files(tmp_path: Path) -> None:
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"garbage.npy: not a readable .npy file"):
        build_inputs(IMAGE, tmp_path / "garbage.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects.npy: not a readable .npy file"):
        build_inputs(IMAGE, tmp_path / "objects.npy")
    with pytest.raises(ValueError, match=r"missing.npy: cannot read: No such file"):
        build_inputs(IMAGE, tmp_path / "missing.npy")
    np.save(tmp_path / "one.npy", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"a .npy file holds one input, the model takes 2"):
        build_inputs(TWO, tmp_path / "one.npy")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match=r"x.csv: expected a .npy or .json file"):
        build_inputs(IMAGE, tmp_path / "x.csv")


def test_file_size_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(inputs_module, "MAX_FILE_BYTES", 100)
    np.save(tmp_path / "big.npy", np.zeros((100, 4), np.float32))
    with pytest.raises(ValueError, match=r"big.npy: \d+ bytes, larger than the 100 allowed"):
        build_inputs(IMAGE, tmp_path / "big.npy")


# ------------------------------------------------------------------ .json files


def write_json(tmp_path: Path, data) -> Path:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data))
    return path


def test_json_by_name_list_and_kserve_body(tmp_path: Path) -> None:
    by_name = write_json(tmp_path, {"VALUES": [1.5, 2.5, 3], "OFFSET": [1, 2]})
    values, offset = build_inputs(TWO, by_name)
    assert values.array.tolist() == [1.5, 2.5, 3.0] and values.array.dtype == np.float32
    assert offset.array.tolist() == [1, 2] and offset.array.dtype == np.int64
    as_list = write_json(tmp_path, [[0.5], [7, 8]])
    assert [t.array.tolist() for t in build_inputs(TWO, as_list)] == [[0.5], [7, 8]]
    single = write_json(tmp_path, [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert build_inputs(IMAGE, single, max_batch_size=8)[0].array.shape == (2, 4)
    kserve = write_json(tmp_path, {"inputs": [
        {"name": "INPUT__0", "shape": [2, 4], "datatype": "FP32", "data": list(range(8))}]})
    assert build_inputs(IMAGE, kserve, max_batch_size=8)[0].array.tolist() == [
        [0, 1, 2, 3], [4, 5, 6, 7]]


def test_json_bytes_and_bool(tmp_path: Path) -> None:
    meta = meta_of(TensorSpec("TEXT", "BYTES", (-1, 1)), TensorSpec("FLAG", "BOOL", (-1,)))
    path = write_json(tmp_path, {"TEXT": [["héllo"], ["[b]x"]], "FLAG": [True, False]})
    text, flag = build_inputs(meta, path, max_batch_size=4)
    assert text.array.tolist() == [["héllo".encode()], [b"[b]x"]]
    assert flag.array.dtype == np.bool_ and flag.array.tolist() == [True, False]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"VALUES": [1.0], "OFFSET": [1, 2], "EXTRA": [1]},
         r"in.json: no input named 'EXTRA' \(the model takes VALUES, OFFSET\)"),
        ({"VALUES": [1.0]}, r"in.json: input OFFSET missing \(expected INT64 \[2\]\)"),
        ({"VALUES": [1.0], "OFFSET": [1, 2, 3]},
         r"input OFFSET: expected INT64 \[2\], got shape \[3\]"),
        ({"VALUES": [1.0], "OFFSET": [1.5, 2]},
         r"input OFFSET: expected INT64 \[2\], got float64 values"),
        ({"VALUES": [[1.0], [2.0, 3.0]], "OFFSET": [1, 2]},
         r"input VALUES: expected FP32 \[-1\], got data numpy cannot shape"),
        ({"VALUES": "text", "OFFSET": [1, 2]}, r"input VALUES: expected FP32 \[-1\], got shape \[\]"),
        ([[1.0]], r"the model takes 2 inputs \(VALUES, OFFSET\): give an object keyed by "
                  r"input name"),
    ],
)
def test_json_checked_against_metadata(tmp_path: Path, data, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_inputs(TWO, write_json(tmp_path, data))


def test_json_bytes_needs_text(tmp_path: Path) -> None:
    meta = meta_of(TensorSpec("TEXT", "BYTES", (-1,)))
    with pytest.raises(ValueError, match=r"input TEXT: expected BYTES \[-1\], got values that "
                                         r"are not text"):
        build_inputs(meta, write_json(tmp_path, {"TEXT": [1, 2]}))


def test_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"in.json: not valid JSON: Expecting property name"):
        build_inputs(IMAGE, tmp_path / "in.json")
    (tmp_path / "in.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match=r"in.json: not valid JSON"):
        build_inputs(IMAGE, tmp_path / "in.json")


@settings(max_examples=150, deadline=None)
@given(datatype=st.sampled_from(ALL_TYPES),
       dims=st.lists(st.sampled_from([-1, 1, 2, 3]), max_size=3),
       batching=st.booleans(), batch_size=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_generated_inputs_pass_their_own_check(datatype, dims, batching, batch_size, seed):
    """What build_inputs makes for a model is what check_array accepts for it, unchanged."""
    shape = (-1, *dims) if batching else tuple(dims)
    max_batch = 4 if batching else 0
    spec = TensorSpec("X", datatype, shape)
    (tensor,) = build_inputs(meta_of(spec), "random", batch_size=batch_size,
                             max_batch_size=max_batch, seed=seed)
    checked = inputs_module.check_array(spec, tensor.array, max_batch_size=max_batch)
    assert checked.shape == tensor.array.shape and checked.dtype == tensor.array.dtype
    if datatype == "BYTES":
        assert checked.tolist() == tensor.array.tolist()
    else:
        assert checked.tobytes() == tensor.array.tobytes()
