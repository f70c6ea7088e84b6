"""The model repository check: good and broken layouts built in tmp_path, the same layouts
in S3 (a real moto server on 127.0.0.1), and a good layout really loaded by the real
tritonserver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.errors import ConfigError, ConnectionFailed
from mlops_tui.backends.triton import repository
from mlops_tui.backends.triton.repository import (
    check_repository,
    check_s3_repository,
    parse_s3_uri,
)
from mlops_tui.backends.triton.tensors import TensorSpec
from tests.servers.moto import moto_server

PY_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: 8
input [ {{ name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
"""
ONNX_CONFIG = """platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "x" data_type: TYPE_STRING dims: [ -1, 3 ] } ]
output [ { name: "y" data_type: TYPE_FP16 dims: [ 1 ] } ]
"""
SAVEDMODEL_CONFIG = """name: "tf"
platform: "tensorflow_savedmodel"
default_model_filename: "exported"
input [ { name: "a" data_type: TYPE_BOOL dims: [ 2 ] } ]
output [ { name: "b" data_type: TYPE_INT64 dims: [ 2 ] } ]
"""
ENSEMBLE_CONFIG = """name: "pipeline"
platform: "ensemble"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [
  { model_name: "identity" model_version: -1
    input_map { key: "INPUT__0" value: "IN" } output_map { key: "OUTPUT__0" value: "OUT" } }
] }
"""
MODEL_PY = '''import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(
            "OUTPUT__0", np.array(pb_utils.get_input_tensor_by_name(r, "INPUT__0").as_numpy(),
                                  copy=True))]) for r in requests]
'''


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


#: a repository Triton loads: python model, ensemble over it
SERVABLE = {
    "identity/config.pbtxt": PY_CONFIG.format(name="identity"),
    "identity/1/model.py": MODEL_PY,
    "pipeline/config.pbtxt": ENSEMBLE_CONFIG,
    "pipeline/1/": "",
}
#: plus models of backends this machine cannot run (only the files are checked)
GOOD = {
    **SERVABLE,
    "detector/config.pbtxt": ONNX_CONFIG,
    "detector/1/model.onnx": b"\x08\x07onnx-bytes",
    "detector/3/model.onnx": b"\x08\x07onnx-bytes",
    "detector/labels.txt": "cat\ndog\n",
    "tf/config.pbtxt": SAVEDMODEL_CONFIG,
    "tf/1/exported/saved_model.pb": b"pb",
    ".ipynb_checkpoints/": "",
    "README.md": "models",
}


def problems_of(root: Path) -> list[str]:
    return check_repository(root).lines()


def test_good_repository(tmp_path: Path) -> None:
    report = check_repository(write(tmp_path, GOOD))
    assert report.ok, report.lines()
    models = {m.name: m for m in report.models}
    assert sorted(models) == ["detector", "identity", "pipeline", "tf"]
    detector = models["detector"]
    assert detector.platform_or_backend == "onnxruntime_onnx"
    assert detector.versions == (1, 3) and detector.max_batch_size == 0
    assert detector.inputs == (TensorSpec("x", "BYTES", (-1, 3)),)
    assert detector.outputs == (TensorSpec("y", "FP16", (1,)),)
    assert models["identity"].inputs == (TensorSpec("INPUT__0", "FP32", (4,)),)
    assert models["pipeline"].platform_or_backend == "ensemble"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"m/config.pbtxt": PY_CONFIG.format(name="other"), "m/1/model.py": ""},
         "m/config.pbtxt: name 'other' differs from the folder name 'm'"),
        ({"m/config.pbtxt": PY_CONFIG.format(name="m"), "m/1/model.py": "", "m/v2/": ""},
         "m/v2: version folder name is not a number (Triton ignores it)"),
        ({"m/config.pbtxt": PY_CONFIG.format(name="m")},
         "m: no version folder (e.g. 1/)"),
        ({"m/config.pbtxt": PY_CONFIG.format(name="m"), "m/1/other.py": ""},
         "m/1: model.py missing (python)"),
        ({"m/config.pbtxt": ONNX_CONFIG, "m/1/model.plan": b""},
         "m/1: model.onnx missing (onnxruntime_onnx)"),
        ({"m/config.pbtxt": SAVEDMODEL_CONFIG.replace('"tf"', '"m"'), "m/1/model.savedmodel/": ""},
         "m/1: exported missing (tensorflow_savedmodel)"),
        ({"m/config.pbtxt": 'platform: "pytorch_libtorch"\ninput [ { name: "a" data_type: '
                            'TYPE_FP32 dims: [ 1 ] } ]\noutput [ { name: "b" data_type: '
                            'TYPE_FP32 dims: [ 1 ] } ]', "m/1/model.pt/": ""},
         ""),  # a folder named model.pt: Triton takes what is there
        ({"m/1/model.onnx": b"x"},
         "m/config.pbtxt: missing; Triton can derive them from the model file only with "
         "auto-complete on"),
        ({"m/1/model.pt": b"x"}, "m/config.pbtxt: missing"),
        ({"m/config.pbtxt": 'name: "m"\nbackend: "python"\nmax_batch_size: 8\n'
                            'input [ { name: "a" data_type: TYPE_FOO dims: [ 1 ] } ]',
          "m/1/model.py": ""},
         'm/config.pbtxt: cannot parse: 4:32 : \'input [ { name: "a" data_type: TYPE_FOO dims'),
        ({"m/config.pbtxt": PY_CONFIG.format(name="m").replace("[ 4 ] } ]\noutput",
                                                               "[ 4, 0 ] } ]\noutput"),
          "m/1/model.py": ""},
         "m/config.pbtxt: input INPUT__0: dims [4, 0] invalid (each > 0, or -1 for any size)"),
        ({"m/config.pbtxt": 'backend: "python"\ninput [ { name: "a" data_type: TYPE_FP32 '
                            'dims: [ 0, -2 ] } ]\noutput [ { name: "b" dims: [ 1 ] } ]',
          "m/1/model.py": ""},
         "m/config.pbtxt: input a: dims [0, -2] invalid (each > 0, or -1 for any size)"),
        ({"m/config.pbtxt": 'backend: "python"\ninput [ { name: "a" data_type: TYPE_FP32 '
                            'dims: [ 1 ] } ]\noutput [ { name: "b" dims: [ 1 ] } ]',
          "m/1/model.py": ""},
         "m/config.pbtxt: output b: data_type missing"),
        ({"m/config.pbtxt": 'backend: "python"\nmax_batch_size: -4\ninput [ { name: "a" '
                            'data_type: TYPE_FP32 dims: [ 1 ] } ]\noutput [ { name: "a" '
                            'data_type: TYPE_FP32 dims: [ ] } ]', "m/1/model.py": ""},
         "m/config.pbtxt: max_batch_size -4 is negative"),
        ({"m/config.pbtxt": 'platform: "onnxruntime_onnx"', "m/1/model.onnx": b"x"},
         "m/config.pbtxt: no inputs declared; Triton can derive them from the model file "
         "only with auto-complete on (not with --strict-model-config=true / "
         "--disable-auto-complete-config)"),
        ({"m/config.pbtxt": 'backend: "python"', "m/1/model.py": ""},
         "m/config.pbtxt: no outputs declared (unless model.py's auto_complete_config "
         "adds them)"),
        ({"m/config.pbtxt": 'input [ { name: "a" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
                            'output [ { name: "b" data_type: TYPE_FP32 dims: [ 1 ] } ]',
          "m/1/x": ""},
         "m/config.pbtxt: neither backend nor platform set"),
        ({**SERVABLE, "pipeline/config.pbtxt": ENSEMBLE_CONFIG.replace('"identity"', '"gone"')},
         "pipeline/config.pbtxt: ensemble step names model 'gone', which is not in the "
         "repository"),
        ({"m/config.pbtxt": 'platform: "ensemble"\ninput [ { name: "a" data_type: TYPE_FP32 '
                            'dims: [ 1 ] } ]\noutput [ { name: "b" data_type: TYPE_FP32 '
                            'dims: [ 1 ] } ]', "m/1/": ""},
         "m/config.pbtxt: ensemble without ensemble_scheduling steps"),
        ({"m/config.pbtxt": PY_CONFIG.format(name="m") + "version_policy: { specific: { "
                                                         "versions: [ 1, 2 ] } }",
          "m/1/model.py": ""},
         "m/config.pbtxt: version_policy names version 2, which has no folder"),
        ({"m/config.pbtxt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "m/1/model.py": ""},
         "m/config.pbtxt: binary data, not a text config"),
        ({"m/config.pbtxt": b"name: \"\xff\xfe\"", "m/1/model.py": ""},
         "m/config.pbtxt: not UTF-8 text"),
        ({"m/config.pbtxt/": "", "m/1/model.py": ""},
         "m/config.pbtxt: a folder, not a config file"),
        ({"README.md": "no models here", ".git/": ""},
         "no models: the repository has no model folders"),
    ],
)
def test_broken_layouts(tmp_path: Path, files: dict, expected: str) -> None:
    root = write(tmp_path / "repo", files)
    lines = problems_of(root)
    if not expected:
        assert lines == []
        return
    assert any(line.startswith(expected) or line.endswith(expected) for line in lines), lines
    assert all("\n" not in line for line in lines)


def test_every_problem_found_at_once(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "a/config.pbtxt": 'backend: "python"\ninput [ { name: "x" data_type: TYPE_FP32 '
                          'dims: [ 0 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 '
                          'dims: [ 1 ] } ]',
        "a/1/model.py": "",
        "b/config.pbtxt": PY_CONFIG.format(name="c"),
        "b/1/model.py": "",
    })
    lines = problems_of(root)
    assert lines == [
        "a/config.pbtxt: input x: dims [0] invalid (each > 0, or -1 for any size)",
        "b/config.pbtxt: name 'c' differs from the folder name 'b'",
    ]
    assert [m.name for m in check_repository(root).models] == ["a", "b"]


def test_missing_and_non_folder_roots(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: does not exist"]
    (tmp_path / "file").write_text("x")
    assert problems_of(tmp_path / "file") == [f"{tmp_path / 'file'}: is not a folder"]
    assert problems_of(tmp_path) == [f"{tmp_path}: no models: the repository has no model "
                                     f"folders"]


def test_hostile_filesystem(tmp_path: Path) -> None:
    """Symlink loops, dangling links, a FIFO as config (never opened: it would block),
    a huge config, a folder name with control characters: problems, never a crash."""
    root = write(tmp_path / "repo", {
        "good/config.pbtxt": PY_CONFIG.format(name="good"), "good/1/model.py": "",
        "fifo/1/model.py": "", "huge/1/model.py": "", "dangling/1/": "",
    })
    (root / "loop").symlink_to(root)  # a model folder that is the repository itself
    (root / "good" / "2").symlink_to(root / "good")  # a version folder that loops
    (root / "dangling" / "config.pbtxt").symlink_to(tmp_path / "gone")
    os.mkfifo(root / "fifo" / "config.pbtxt")
    with open(root / "huge" / "config.pbtxt", "wb") as f:
        f.write(b"# " + b"x" * (repository.MAX_CONFIG_BYTES + 10))
    (root / "bad\x1b[31mname").mkdir()
    report = check_repository(root)
    lines = report.lines()
    assert "loop: symlink loop: folder seen before" in lines
    assert "good/2: symlink loop: folder seen before" in lines
    assert "dangling/config.pbtxt: cannot read: No such file or directory" in lines
    assert "fifo/config.pbtxt: not a regular file, not a config file" in lines
    assert "huge/config.pbtxt: larger than 1024 KiB: not a config" in lines
    assert "bad[31mname/config.pbtxt: missing" in lines
    assert all("\x1b" not in line for line in lines)


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    assert parse_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_s3_uri("s3://minio.local:9000/bucket/models") == ("bucket", "models")
    for bad in ("bucket/models", "s3://", "gs://bucket"):
        with pytest.raises(ConfigError):
            parse_s3_uri(bad)


# ------------------------------------------------------------------ S3 (real moto server)


@pytest.fixture(scope="module")
def s3() -> Iterator:
    """A boto3 S3 client on a real moto server on 127.0.0.1, with dummy credentials."""
    boto3 = pytest.importorskip("boto3")

    with moto_server() as url, pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        client = boto3.client("s3", region_name="us-east-1",
                              endpoint_url=url)
        client.create_bucket(Bucket="models")
        yield client


def upload(s3, prefix: str, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        body = content.encode() if isinstance(content, str) else content
        s3.put_object(Bucket="models", Key=f"{prefix}/{rel}", Body=body)


def test_s3_good_repository_paged(s3, monkeypatch) -> None:
    upload(s3, "good", GOOD)
    monkeypatch.setattr(repository, "S3_PAGE_SIZE", 2)  # many pages: pagination is followed
    report = check_s3_repository("s3://models/good", s3_client=s3)
    assert report.ok, report.lines()
    assert sorted(m.name for m in report.models) == ["detector", "identity", "pipeline", "tf"]
    assert {m.name: m.versions for m in report.models}["detector"] == (1, 3)


def test_s3_same_rules_as_a_folder(s3, tmp_path: Path) -> None:
    broken = {
        "a/config.pbtxt": PY_CONFIG.format(name="z"), "a/1/model.py": "", "a/x/": "",
        "b/1/model.onnx": b"x",
        "c/config.pbtxt": "name: 12 :", "c/1/model.py": "",
        "d/config.pbtxt": PY_CONFIG.format(name="d"), "d/1/other.py": "",
        **{k.replace("pipeline", "e"): v.replace('"pipeline"', '"e"').replace('"identity"',
                                                                                 '"gone"')
           for k, v in SERVABLE.items() if k.startswith("pipeline")},
    }
    upload(s3, "broken", broken)
    local = check_repository(write(tmp_path, broken)).lines()
    remote = check_s3_repository("s3://models/broken/", s3_client=s3).lines()
    assert remote == local and len(local) == 6


def test_s3_missing_bucket_and_empty_prefix(s3) -> None:
    assert check_s3_repository("s3://no-such-bucket/m", s3_client=s3).lines() == [
        "s3://no-such-bucket/m: NoSuchBucket: The specified bucket does not exist"]
    assert check_s3_repository("s3://models/nothing-here", s3_client=s3).lines() == [
        "s3://models/nothing-here: no models: the repository has no model folders"]


# ------------------------------------------------------------------ the real tritonserver


def test_good_layout_loads_in_tritonserver(tmp_path: Path) -> None:
    from mlops_tui.backends.triton.client import TritonClient
    from mlops_tui.backends.triton.tensors import TritonEndpoint
    from tests.servers.fixtures import require_servers
    from tests.servers.triton import TritonServer

    require_servers("triton")
    write(tmp_path / "models", SERVABLE)
    assert check_repository(tmp_path / "models").ok
    with TritonServer(models=(), workdir=tmp_path) as triton:

        async def load_all() -> dict[str, str]:
            async with TritonClient(TritonEndpoint(f"127.0.0.1:{triton.http_port}")) as c:
                for _ in range(300):  # start() waited for no model: wait for the server
                    with contextlib.suppress(ConnectionFailed):
                        if await c.server_live():
                            break
                    await asyncio.sleep(0.1)
                for model in ("identity", "pipeline"):
                    await c.load(model)
                return {m.name: m.state for m in await c.repository_index()}

        assert asyncio.run(load_all()) == {"identity": "READY", "pipeline": "READY"}


def test_s3_unreachable_and_bad_bucket_names(s3) -> None:
    import boto3
    from botocore.config import Config

    dead = f"http://127.0.0.1:{free_port()}"
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=dead,
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ConnectionFailed, match=r"s3://models/m: S3 cannot be reached"):
        check_s3_repository("s3://models/m", s3_client=client)
    with pytest.raises(ConfigError, match=r'^s3://bad!bucket/m: Invalid bucket name "bad!bucket"$'):
        check_s3_repository("s3://bad!bucket/m", s3_client=s3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ any bytes as a config

CONFIG_WORDS = st.sampled_from([
    'name: "m"', 'backend: "python"', 'platform: "ensemble"', "max_batch_size: -1",
    "input [", "output [", "{", "}", "]", 'name: "x"', "data_type: TYPE_FP32", "dims: [",
    "-1", "0", "4", ",", "ensemble_scheduling { step [ { model_name: \"q\" } ] }",
    "version_policy { specific { versions: [ 7 ] } }", "\x00", "\x1b[31m", "\n", "#",
    'default_model_filename: "../../etc"', "parameters { key: \"k\" }",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.lists(CONFIG_WORDS, max_size=40).map(lambda w: " ".join(w).encode())))
def test_any_config_bytes_give_problems_never_a_crash(raw: bytes) -> None:
    """Whatever config.pbtxt holds, the check returns a report of one-line problems."""
    listing = {"m": "dir", "m/config.pbtxt": "file", "m/1": "dir", "m/1/model.py": "file"}
    report = repository.check_listing("repo", listing, lambda rel: raw)
    for line in report.lines():
        assert "\n" not in line and "\x1b" not in line and "\x00" not in line
    assert report.ok == (not report.problems)
