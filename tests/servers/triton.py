"""A real Triton Inference Server 2.51 (CPU) on 127.0.0.1 for tests.

The bare ``tritonserver`` binary from the ``nvidia-pytriton`` wheel, installed in its own
venv by ``tests/servers/setup-triton.sh``, serving an on-disk model repository that this
module writes: Python-backend models (``<model>/config.pbtxt`` + ``<model>/1/model.py``)
that return a copy of their FP32 ``[-1, 4]`` input, optionally after a delay (and, for
tests that need other shapes, :class:`CustomModel`: a BYTES model, a two-input model, one
whose load fails). Requests,
batching, the repository API and the metrics endpoint are Triton's own; only the model
bodies are toys.

Typical use::

    with TritonServer() as triton:                  # resnet50 + bert, both ready
        triton.infer("resnet50", count=10, batch=2)  # 10 real HTTP/JSON requests
        text = triton.metrics_text()                 # nv_inference_request_success{...} 10

Traps handled here (see shared/TESTING.md, "Triton Inference Server"):

- the Python backend stub links ``libpython3.11.so.1.0``: the venv is built from Debian's
  ``/usr/bin/python3.11`` and that interpreter's LIBDIR is on ``LD_LIBRARY_PATH``;
- the stub runs the first ``python3`` on ``PATH``: the venv's ``bin`` goes first (its
  numpy 1.26), or outputs come back empty;
- the wheel's ``backends/python`` has no stub: PyTriton copies the one for its Python
  version from ``python_backend_stubs/3.11``; here a per-server backend directory links it;
- the binary needs ``site-packages/nvidia_pytriton.libs`` on ``LD_LIBRARY_PATH``;
- ``/v2/health/ready`` can answer before the models load: each model's own
  ``/v2/models/NAME/ready`` is polled;
- the Python backend's ``/dev/shm`` regions carry a per-server prefix
  (``--backend-config=python,shm-region-prefix-name=...``); its stubs remove them on exit
  (even after a SIGKILL of the server, seen here) and :meth:`stop` removes any left;
- a load request that overrides model files makes Triton write them to
  ``/tmp/folderXXXXXX`` (hardcoded, ``TMPDIR`` is ignored); Triton removes it on unload
  or clean exit, :meth:`stop` removes one a killed server left.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from tests.cluster.controlplane import _Proc, _tail

READY_TIMEOUT_S = 60.0
SETUP_SCRIPT = Path(__file__).resolve().parent / "setup-triton.sh"
#: the tensors of every test model
INPUT_NAME, OUTPUT_NAME, WIDTH = "INPUT__0", "OUTPUT__0", 4
#: a request whose first value is this makes the model raise: a real backend failure, counted
#: in ``nv_inference_request_failure{reason="BACKEND"}`` (an error *response* would count as a
#: success; the raise fails every request of the dynamic batch it is in)
REJECT_VALUE = -1.0


class TritonError(RuntimeError):
    """Triton could not be started, or answered wrongly (message includes the log tail)."""


# --------------------------------------------------------------------------- install


def default_venv() -> Path:
    """``$MLOPS_TUI_TRITON_VENV`` or ``${XDG_CACHE_HOME:-~/.cache}/mlops-tui/triton-venv``."""
    env = os.environ.get("MLOPS_TUI_TRITON_VENV")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlops-tui" / "triton-venv"


def site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python3.*/site-packages"))
    return found[0] if found else None


def find_tritonserver(venv: Path | None = None) -> Path | None:
    """The ``tritonserver`` binary inside the triton venv, or None."""
    sp = site_packages(venv or default_venv())
    if sp is None:
        return None
    binary = sp / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    return binary if os.access(binary, os.X_OK) else None


def missing_reason(venv: Path | None = None) -> str:
    venv = venv or default_venv()
    return (
        f"no tritonserver in the triton venv {venv} (install it, ~1 min: "
        f"bash {SETUP_SCRIPT.relative_to(SETUP_SCRIPT.parents[2])})"
    )


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    """One Python-backend test model: FP32 ``[-1, 4]`` in, a copy of it out.

    ``delay_ms`` is slept once per request, so latency shows in the metrics.
    """

    name: str
    delay_ms: float = 0.0
    max_batch_size: int = 8
    max_queue_delay_us: int = 500
    instances: int = 1

    def config_pbtxt(self) -> str:
        return f"""name: "{self.name}"
backend: "python"
max_batch_size: {self.max_batch_size}
input [
  {{ name: "{INPUT_NAME}" data_type: TYPE_FP32 dims: [ {WIDTH} ] }}
]
output [
  {{ name: "{OUTPUT_NAME}" data_type: TYPE_FP32 dims: [ {WIDTH} ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: {self.max_queue_delay_us} }}
instance_group [ {{ kind: KIND_CPU count: {self.instances} }} ]
parameters {{ key: "delay_ms" value: {{ string_value: "{self.delay_ms:g}" }} }}
"""

    def model_py(self) -> str:
        return MODEL_PY


#: what the fixtures serve: a fast model and one with visible latency
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("resnet50"),
    ModelSpec("bert", delay_ms=20.0),
)

MODEL_PY = f'''"""Identity model for tests: returns a copy of INPUT__0 (after delay_ms per request)."""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        delay = config.get("parameters", {{}}).get("delay_ms", {{}}).get("string_value", "0")
        self.delay_s = float(delay) / 1000.0

    def execute(self, requests):
        responses = []
        for request in requests:
            if self.delay_s:
                time.sleep(self.delay_s)
            data = pb_utils.get_input_tensor_by_name(request, "{INPUT_NAME}").as_numpy()
            if data.size and float(data.flat[0]) == {REJECT_VALUE!r}:
                raise pb_utils.TritonModelException("first value {REJECT_VALUE!r}: refused on purpose")
            # a copy: handing the input buffer back gives empty or garbage outputs
            out = pb_utils.Tensor("{OUTPUT_NAME}", np.array(data, dtype=np.float32, copy=True))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
'''


@dataclass(frozen=True)
class CustomModel:
    """A Python-backend test model with its own config and body (other types, other inputs).

    Served by :class:`TritonServer` like a :class:`ModelSpec`; ``model_py`` is the body
    of ``1/model.py``.
    """

    name: str
    config: str
    body: str

    def config_pbtxt(self) -> str:
        return self.config

    def model_py(self) -> str:
        return self.body


#: BYTES in (``TEXT``, one string per row), the text upper-cased and its length out
TEXT_MODEL = CustomModel(
    "text_upper",
    config="""name: "text_upper"
backend: "python"
max_batch_size: 8
input [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]
output [
  { name: "UPPER" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "LENGTH" data_type: TYPE_INT32 dims: [ 1 ] }
]
""",
    body='''"""Upper-cases BYTES input TEXT; returns it as UPPER and its byte length as LENGTH."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            upper = np.array([[bytes(v).upper() for v in row] for row in text], dtype=object)
            length = np.array([[len(bytes(v)) for v in row] for row in text], dtype=np.int32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("UPPER", upper), pb_utils.Tensor("LENGTH", length)]))
        return responses
''',
)

#: two inputs, no batching: ``VALUES`` FP32 of any length and ``OFFSET`` INT64 ``[2]``;
#: ``SUM`` FP32 ``[1]`` = sum(VALUES) + sum(OFFSET)
TWO_INPUT_MODEL = CustomModel(
    "two_inputs",
    config="""name: "two_inputs"
backend: "python"
max_batch_size: 0
input [
  { name: "VALUES" data_type: TYPE_FP32 dims: [ -1 ] },
  { name: "OFFSET" data_type: TYPE_INT64 dims: [ 2 ] }
]
output [ { name: "SUM" data_type: TYPE_FP32 dims: [ 1 ] } ]
""",
    body='''"""SUM = sum(VALUES) + sum(OFFSET)."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            values = pb_utils.get_input_tensor_by_name(request, "VALUES").as_numpy()
            offset = pb_utils.get_input_tensor_by_name(request, "OFFSET").as_numpy()
            total = np.array([values.sum() + offset.sum()], dtype=np.float32)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("SUM", total)]))
        return responses
''',
)

#: a model whose load fails (its ``initialize`` raises): write it into a running server's
#: repository and ask for a load; never serve it from the start (the server would exit)
BROKEN_MODEL = CustomModel(
    "broken",
    config="""name: "broken"
backend: "python"
max_batch_size: 0
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
""",
    body='''"""Fails to load on purpose."""


class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("this model refuses to load")

    def execute(self, requests):
        return []
''',
)


def write_model_repository(root: Path, models: Iterable[ModelSpec | CustomModel]) -> Path:
    """Write ``<root>/<model>/config.pbtxt`` and ``<root>/<model>/1/model.py``."""
    root.mkdir(parents=True, exist_ok=True)
    for spec in models:
        (root / spec.name / "1").mkdir(parents=True, exist_ok=True)
        (root / spec.name / "config.pbtxt").write_text(spec.config_pbtxt())
        (root / spec.name / "1" / "model.py").write_text(spec.model_py())
    return root


# --------------------------------------------------------------------------- server


class TritonServer:
    """``tritonserver`` on 127.0.0.1 (HTTP, gRPC and metrics on free ports).

    Parameters:
        models: the models written to the repository and loaded at start (explicit model
            control: :meth:`load` / :meth:`unload` and the repository index work).
        venv: the triton venv (default :func:`default_venv`).
        workdir: repository, backend dir and log (default: a temp dir, removed by
            :meth:`close`).
        extra_args: appended to the command line.
    """

    def __init__(
        self,
        models: Sequence[ModelSpec | CustomModel] = DEFAULT_MODELS,
        *,
        venv: Path | None = None,
        workdir: Path | None = None,
        extra_args: Iterable[str] = (),
    ) -> None:
        self.models = tuple(models)
        self.venv = Path(venv) if venv else default_venv()
        self.binary = find_tritonserver(self.venv)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.extra_args = list(extra_args)
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.shm_prefix = f"mlopstui_{os.getpid()}_{secrets.token_hex(3)}_"
        self._proc: _Proc | None = None
        self._tmp_before: set[str] = set()
        self.start_seconds = 0.0

    # ---- context manager
    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- properties
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.alive() else None

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "tritonserver.log"

    @property
    def model_repository(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "models"

    # ---- lifecycle
    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        """Start the server and wait until every model answers ``/v2/models/NAME/ready``."""
        if self._proc is not None:
            raise TritonError("already started")
        if self.binary is None:
            raise TritonError(missing_reason(self.venv))
        t0 = time.monotonic()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="mlops-tui-triton-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_model_repository(self.model_repository, self.models)
        backends = self._backend_dir()
        if not self.http_port:
            self.http_port, self.grpc_port, self.metrics_port = _free_ports(3)
        argv = [
            str(self.binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            f"--cache-directory={self.binary.parents[1] / 'caches'}",
            "--model-control-mode=explicit",
            "--load-model=*",
            "--http-address=127.0.0.1",
            f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.grpc_port}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self.metrics_port}",
            "--metrics-interval-ms=500",
            "--metrics-config=summary_latencies=true",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
            *self.extra_args,
        ]
        self._tmp_before = set(_tmp_folders())
        self._proc = _Proc("tritonserver", argv, self.log_path, self._env())
        self._proc.start()
        try:
            for spec in self.models:
                self._wait(lambda s=spec: self.model_ready(s.name), f"model {spec.name}", timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop the server by its PID; remove its /dev/shm regions and /tmp folders."""
        if self._proc is not None:
            self._proc.stop(timeout=10.0)
            self._proc = None
        for region in Path("/dev/shm").glob(f"{self.shm_prefix}*"):
            with contextlib.suppress(OSError):
                region.unlink()
        for folder in set(_tmp_folders()) - self._tmp_before:
            _remove_if_triton_folder(Path(folder))

    def close(self) -> None:
        """:meth:`stop`, then remove the work dir (when this object made it)."""
        self.stop()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _backend_dir(self) -> Path:
        """``backends/python`` as PyTriton prepares it: the wheel's files + the 3.11 stub."""
        assert self.workdir is not None and self.binary is not None
        dist = self.binary.parents[1]  # .../pytriton/tritonserver
        py = self._python_version()
        target = self.workdir / "backends" / "python"
        target.mkdir(parents=True, exist_ok=True)
        links = {
            "libtriton_python.so": dist / "backends" / "python" / "libtriton_python.so",
            "triton_python_backend_utils.py": dist
            / "backends"
            / "python"
            / "triton_python_backend_utils.py",
            "triton_python_backend_stub": dist
            / "python_backend_stubs"
            / py
            / "triton_python_backend_stub",
        }
        for name, src in links.items():
            if not src.exists():
                raise TritonError(f"{src} is missing from the triton venv; run {SETUP_SCRIPT}")
            dst = target / name
            if not dst.exists():
                dst.symlink_to(src)
        return target.parent

    def _python_version(self) -> str:
        sp = site_packages(self.venv)
        assert sp is not None
        return sp.parent.name.removeprefix("python")  # lib/python3.11/site-packages

    def _env(self) -> dict[str, str]:
        assert self.binary is not None
        sp = site_packages(self.venv)
        assert sp is not None
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        libdir = _interpreter_libdir(self.venv)
        libs = [str(sp / "nvidia_pytriton.libs"), *([libdir] if libdir else [])]
        if env.get("LD_LIBRARY_PATH"):
            libs.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(libs)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return env

    def _wait(self, check, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            proc = self._proc
            if proc is None or not proc.alive():
                code = proc.popen.returncode if proc and proc.popen else None
                raise TritonError(
                    f"tritonserver exited (code {code}) before {what} was ready; log "
                    f"{self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                if check():
                    return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            if time.monotonic() > deadline:
                raise TritonError(
                    f"{what} not ready after {timeout:.0f}s (last error: {last!r}); log "
                    f"{self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)

    # ---- HTTP
    def _request(
        self, path: str, body: Any = None, *, timeout: float = 10.0, base: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            (base or self.http_url) + path, data=data, method="GET" if data is None else "POST"
        )
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def model_ready(self, model: str) -> bool:
        return self._request(f"/v2/models/{model}/ready", timeout=2.0)[0] == 200

    def repository_index(self) -> list[dict]:
        """``POST /v2/repository/index``: ``[{"name", "version", "state", ...}]``."""
        status, body = self._request("/v2/repository/index", {})
        if status != 200:
            raise TritonError(f"repository index: HTTP {status}: {body}")
        return body

    def load(self, model: str, timeout: float = 30.0) -> None:
        status, body = self._request(f"/v2/repository/models/{model}/load", {}, timeout=timeout)
        if status != 200:
            raise TritonError(f"load {model}: HTTP {status}: {body}")

    def unload(self, model: str) -> None:
        status, body = self._request(f"/v2/repository/models/{model}/unload", {})
        if status != 200:
            raise TritonError(f"unload {model}: HTTP {status}: {body}")

    def infer(self, model: str, count: int = 1, batch: int = 1) -> int:
        """Send ``count`` real inference requests (``batch`` rows each) over HTTP/JSON.

        Every response is checked: same shape, same values as sent. Returns ``count``.
        """
        for i in range(count):
            rows = [[float(i), float(r), 0.5, 1.0 + r] for r in range(batch)]
            body = {
                "id": f"req-{i}",
                "inputs": [
                    {"name": INPUT_NAME, "shape": [batch, WIDTH], "datatype": "FP32", "data": rows}
                ],
                "outputs": [{"name": OUTPUT_NAME}],
            }
            status, reply = self._request(f"/v2/models/{model}/infer", body)
            if status != 200:
                raise TritonError(f"infer {model}: HTTP {status}: {reply}")
            out = {o["name"]: o for o in reply["outputs"]}[OUTPUT_NAME]
            flat = [v for row in rows for v in row]
            if out["shape"] != [batch, WIDTH] or out["data"] != flat:
                raise TritonError(f"infer {model}: sent {flat}, got {out}")
        return count

    def infer_rejected(self, model: str, count: int = 1) -> int:
        """Send ``count`` requests the model refuses (it raises; HTTP 400 here).

        Each one counts in ``nv_inference_request_failure{reason="BACKEND"}`` (shape or
        batch-size errors are refused before the model and count nowhere). Send them while
        no other request is in flight: the whole dynamic batch fails. Returns ``count``.
        """
        body = {
            "inputs": [
                {
                    "name": INPUT_NAME,
                    "shape": [1, WIDTH],
                    "datatype": "FP32",
                    "data": [REJECT_VALUE, 0.0, 0.0, 0.0],
                }
            ]
        }
        for _ in range(count):
            status, reply = self._request(f"/v2/models/{model}/infer", body)
            if status == 200:
                raise TritonError(f"infer {model}: expected a refusal, got {reply}")
        return count

    def metrics_text(self) -> str:
        """The metrics endpoint's Prometheus text exposition."""
        with urllib.request.urlopen(self.metrics_url, timeout=5.0) as r:
            return r.read().decode()


# --------------------------------------------------------------------------- helpers


@functools.cache
def _interpreter_libdir(venv: Path) -> str | None:
    """LIBDIR of the venv's interpreter: where its ``libpython3.11.so.1.0`` lives."""
    try:
        out = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _tmp_folders() -> list[str]:
    return [str(p) for p in Path("/tmp").glob("folder*")]  # hardcoded in Triton


def _remove_if_triton_folder(folder: Path) -> None:
    """Remove a ``/tmp/folderXXXXXX`` left by a killed server.

    Triton (core, not the Python backend) writes the files of a load request that
    overrides a model's files there: always under /tmp (it ignores ``TMPDIR``), and it
    removes them itself on unload and on a clean exit. Only folders holding this module's
    own ``model.py`` are touched.
    """
    with contextlib.suppress(OSError):
        if folder.is_dir() and any(p.read_text() == MODEL_PY for p in folder.rglob("model.py")):
            shutil.rmtree(folder, ignore_errors=True)
