"""Log lines of the simulated containers: deterministic, and shaped like the real programs'.

A container's log is a function of its pod (image, args, start and end times) and the
clock: startup lines, then one periodic line every ``period`` seconds up to now, then a
crash or a clean exit if the run ended. Nothing is stored, so a log of any length costs only
the tail that is asked for.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from mlops_tui.backends.errors import BackendError, NotFound
from mlops_tui.backends.render._common import Obj, parse_time

MAX_LINES = 5000  # what the node keeps before it rotates the file
# (run, time, line index, "start" | "tick" | "crash" | "finish") -> lines
Renderer = Callable[["Run", float, int, str], list[str]]


@dataclass(frozen=True, slots=True)
class Run:
    """One run of one container: what it is and when it ran."""

    pod: str
    container: str
    image: str
    args: tuple[str, ...]
    start: float
    end: float | None  # None: still running
    exit_code: int = 0

    @property
    def model(self) -> str:
        for arg in self.args:
            if arg.startswith("--load-model="):
                return arg.split("=", 1)[1]
        return "model"

    def jitter(self, i: int) -> float:
        """A stable sub-second offset for line ``i``, so timestamps look measured."""
        return (zlib.crc32(f"{self.pod}/{self.container}/{i}".encode()) % 997) / 1000


def _stamp(t: float, fmt: str, digits: int) -> str:
    """``t`` in ``fmt`` plus a fraction of ``digits`` digits (rounded, never 1.000)."""
    scale = 10**digits
    ticks = round(t * scale)
    return time.strftime(fmt, time.gmtime(ticks // scale)) + f"{ticks % scale:0{digits}d}"


def _glog(t: float, msg: str, src: str, level: str = "I") -> str:
    return f"{level}{_stamp(t, '%m%d %H:%M:%S.', 6)} 1 {src}] {msg}"


def _iso(t: float) -> str:
    return _stamp(t, "%Y-%m-%dT%H:%M:%S.", 3) + "Z"


def _pylog(t: float, msg: str, name: str, level: str = "INFO") -> str:
    return f"[{_stamp(t, '%Y-%m-%d %H:%M:%S,', 3)}][{name}][{level}] - {msg}"


_BACKENDS = {"resnet50": "tensorrt", "bert-base": "onnxruntime", "gpt2": "python",
             "llama-3-8b": "tensorrtllm", "densenet_onnx": "onnxruntime"}


def _triton(run: Run, t: float, i: int, kind: str) -> list[str]:
    model, backend = run.model, _BACKENDS.get(run.model, "python")
    if kind == "start":
        width = max(len(model), 5)
        msgs = [
            ("pinned_memory_manager.cc:277", ('"Pinned memory pool is created at '
             "'0x7f3c2e000000' with size 268435456\"")),
            ("cuda_memory_manager.cc:107", ('"CUDA memory pool is created on device 0 with '
             'size 67108864"')),
            ("model_lifecycle.cc:469", f'"loading: {model}:1"'),
            (f"{backend}.cc:2883", f'"TRITONBACKEND_Initialize: {backend}"'),
            (f"{backend}.cc:2961", (f'"TRITONBACKEND_ModelInstanceInitialize: {model}_0_0 '
             '(GPU device 0)"')),
        ]
        if run.exit_code:
            return [_glog(t + n * 0.4, m, s) for n, (s, m) in enumerate(msgs)]
        msgs += [("model_lifecycle.cc:818", f"successfully loaded '{model}' version 1"),
                 ("server.cc:674", ""), ("", f"+-{'-' * width}-+---------+--------+"),
                 ("", f"| {'Model':<{width}} | Version | Status |"),
                 ("", f"+-{'-' * width}-+---------+--------+"),
                 ("", f"| {model:<{width}} | 1       | READY  |"),
                 ("", f"+-{'-' * width}-+---------+--------+"),
                 ("grpc_server.cc:2519", '"Started GRPCInferenceService at 0.0.0.0:8001"'),
                 ("http_server.cc:4637", '"Started HTTPService at 0.0.0.0:8000"'),
                 ("http_server.cc:320", '"Started Metrics Service at 0.0.0.0:8002"')]
        return [_glog(t + n * 0.4, m, s) if s else m for n, (s, m) in enumerate(msgs)]
    if kind == "crash":
        why = "Internal: ModuleNotFoundError: No module named 'transformers'"
        return [_glog(t, f"\"failed to load '{model}' version 1: {why}\"",
                      "model_lifecycle.cc:638", "E"),
                _glog(t + 0.01, f"\"failed to load '{model}'\"", "model_lifecycle.cc:773"),
                _glog(t + 0.02, f"\"Invalid argument: load failed for model '{model}': version "
                                f"1 is at UNAVAILABLE state: {why};\"",
                      "model_repository_manager.cc:1335", "E"),
                _glog(t + 0.5, '"Waiting for in-flight requests to complete."', "server.cc:307"),
                _glog(t + 0.5, '"Timeout 30: Found 0 model versions that have in-flight '
                               'inferences"', "server.cc:323"),
                _glog(t + 0.6, '"All models are stopped, unloading models"', "server.cc:338"),
                "error: creating server: Internal - failed to load all models"]
    if kind == "finish":
        return [_glog(t, '"Waiting for in-flight requests to complete."', "server.cc:307"),
                _glog(t + 0.1, '"All models are stopped, unloading models"', "server.cc:338")]
    if i % 3 == 2:
        return [_glog(t, f'"model {model}, instance {model}_0_0, executing 8 requests"',
                      f"{backend}.cc:2517")]
    return [_glog(t, f'"HTTP request: 2 /v2/models/{model}/infer"', "http_server.cc:4533")]


def _prometheus(run: Run, t: float, i: int, kind: str) -> list[str]:
    def lf(t: float, caller: str, msg: str, extra: str = "") -> str:
        return f'ts={_iso(t)} caller={caller} level=info msg="{msg}"{extra}'
    if kind == "start":
        return [lf(t, "main.go:573", "Starting Prometheus Server", ' mode=server version='
                   '"(version=2.52.0, branch=HEAD)"'),
                lf(t + 0.1, "web.go:568", "Start listening for connections",
                   " component=web address=0.0.0.0:9090"),
                lf(t + 0.3, "head.go:616", "Replaying on-disk memory mappable chunks if any",
                   " component=tsdb"),
                lf(t + 2.1, "main.go:1149", "TSDB started"),
                lf(t + 2.2, "main.go:1331", "Loading configuration file",
                   " filename=/etc/prometheus/config_out/prometheus.env.yaml"),
                lf(t + 2.4, "main.go:1110", "Server is ready to receive web requests.")]
    if kind == "crash":
        return [(f'ts={_iso(t)} caller=main.go:1287 level=error msg="Error running '
                'Prometheus" err="opening storage failed: lock DB directory: resource '
                'temporarily unavailable"')]
    if kind == "finish":
        return [lf(t, "main.go:1043", "See you next time!")]
    return [lf(t, "compact.go:576", "write block", f" component=tsdb mint={int(t) - 7200}000 "
               f"maxt={int(t)}000 duration={0.9 + run.jitter(i):.3f}s")]


def _dcgm(run: Run, t: float, i: int, kind: str) -> list[str]:
    def lr(t: float, msg: str, level: str = "info") -> str:
        return f'time="{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))}" ' \
               f'level={level} msg="{msg}"'
    if kind == "start":
        return [lr(t + n * 0.2, m) for n, m in enumerate((
            "Starting dcgm-exporter", "DCGM successfully initialized!",
            "Collecting DCP Metrics",
            "Falling back to metric file '/etc/dcgm-exporter/dcp-metrics-included.csv'",
            "Initializing system entities of type: GPU", "Kubernetes metrics collection enabled!",
            "Starting webserver", "Listening on address=[::]:9400"))]
    if kind == "crash":
        return [lr(t, "Error connecting to nv-hostengine: Host engine connection invalid",
                   "fatal")]
    if kind == "finish":
        return [lr(t, "Shutting down webserver")]
    return [lr(t, f"Collected {42 + i % 5} metrics from GPU entities", "debug")]


def _trainer(run: Run, t: float, i: int, kind: str) -> list[str]:
    if kind == "start":
        return [_pylog(t, "world_size=2 backend=nccl", "torchrun"),
                _pylog(t + 4, "Loading checkpoint shards: 100%|##########| 4/4", "train"),
                _pylog(t + 9, "dataset: 1,204,332 samples, 5000 steps/epoch", "train")]
    if kind == "crash":
        return [_pylog(t, "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to "
                          "allocate 2.00 GiB", "train", "ERROR")]
    if kind == "finish":
        return [_pylog(t, "training complete, checkpoint saved to /ckpt/final", "train")]
    step = (i + 1) * 50
    loss = 2.4 / (1 + step / 4000) + run.jitter(i) / 50
    return [_pylog(t, f"epoch {step // 5000 + 1} step {step % 5000}/5000 loss={loss:.4f} "
                      f"lr=2.0e-05 tokens/s={18000 + int(run.jitter(i) * 900)}", "train")]


def _batch(run: Run, t: float, i: int, kind: str) -> list[str]:
    if kind == "start":
        return [_pylog(t, "reading s3://demo-data/raw/ (64 shards)", "prep"),
                _pylog(t + 1.2, "schema ok: 23 columns", "prep")]
    if kind == "crash":
        return [_pylog(t, "botocore.exceptions.NoCredentialsError: Unable to locate "
                          "credentials", "prep", "ERROR")]
    if kind == "finish":
        return [_pylog(t, "wrote s3://demo-data/clean/ rows=1,204,332", "prep"),
                _pylog(t + 0.1, "done", "prep")]
    return [_pylog(t, f"shard {i % 64 + 1}/64 rows={18000 + int(run.jitter(i) * 900)}",
                   "prep")]


def _notebook(run: Run, t: float, i: int, kind: str) -> list[str]:
    def jl(t: float, msg: str, level: str = "I") -> str:
        return f"[{level} {_stamp(t, '%Y-%m-%d %H:%M:%S.', 3)} ServerApp] {msg}"
    if kind == "start":
        return [jl(t, "jupyterlab | extension was successfully loaded."),
                jl(t + 0.4, "Serving notebooks from local directory: /home/jovyan"),
                jl(t + 0.5, "Jupyter Server 2.14.0 is running at:"),
                jl(t + 0.5, "http://jupyter-notebook:8888/lab?token=..."),
                jl(t + 0.6, "Use Control-C to stop this server and shut down all kernels.")]
    if kind in ("crash", "finish"):
        return [jl(t, "Shutting down 1 kernel", "C" if kind == "crash" else "I")]
    if i % 4 == 0:
        return [jl(t, "Saving file at /eda/gpu-utilization.ipynb")]
    if i % 4 == 1:
        return [jl(t, "Kernel started: 5f1c0d2e-8a4b-4c3e-9d7f-2b6a1e0c9f83")]
    return [jl(t, f"200 GET /api/kernels (10.244.1.1) {1 + run.jitter(i):.2f}ms")]


def _generic(run: Run, t: float, i: int, kind: str) -> list[str]:
    name = run.container
    if kind == "start":
        return [_glog(t, f'"Starting {name}" image="{run.image}"', "main.go:57"),
                _glog(t + 0.3, '"Serving" address="[::]:8080"', "server.go:112")]
    if kind == "crash":
        return [_glog(t, '"Fatal error" err="exit status 1"', "main.go:88", "E")]
    if kind == "finish":
        return [_glog(t, f'"{name} finished" rows=1204332 duration="5m12s"', "main.go:91")]
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return [(f'10.244.1.{2 + i % 40} - - [{stamp}] "GET /healthz HTTP/1.1" 200 2 "-" '
            '"kube-probe/1.30"')]


# image fragment -> (renderer, seconds between periodic lines)
_FLAVORS = (("tritonserver", _triton, 10.0), ("prometheus:", _prometheus, 7200.0),
            ("dcgm-exporter", _dcgm, 30.0), ("pytorch:", _trainer, 20.0),
            ("nemo:", _trainer, 20.0), ("python:", _batch, 4.8),
            ("-notebook:", _notebook, 60.0))


def _flavor(image: str) -> tuple[Renderer, float]:
    for fragment, render, period in _FLAVORS:
        if fragment in image:
            return render, period
    return _generic, 15.0


def _shift(stamp: str | None, seconds: float) -> str:
    t = parse_time(stamp) + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def current_run(pod: Obj, container: str, now: float, previous: bool) -> Run:
    """The run whose log is asked for, or the error kubectl would print.

    Raises:
        NotFound: ``previous`` and the container never restarted.
        BackendError: the container has not started yet.
    """
    meta, spec = pod["metadata"], pod["spec"]
    cont = next(c for c in spec["containers"] if c["name"] == container)
    statuses = {cs["name"]: cs for cs in (pod.get("status") or {}).get("containerStatuses") or ()}
    cs = statuses.get(container) or {}
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last:
            raise NotFound(f'previous terminated container "{container}" in pod '
                           f'"{meta["name"]}" not found')
        term = last
        if "waiting" in state:  # the current log is already that run: go one further back
            term = {**last, **{k: _shift(last.get(k), -300) for k in ("startedAt", "finishedAt")}}
    elif "running" in state:
        term = {"startedAt": state["running"]["startedAt"]}
    elif "terminated" in state:
        term = state["terminated"]
    elif last:  # crash-looping: the log of the run that just failed
        term = last
    else:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        if not spec.get("nodeName"):
            raise BackendError(f"pod {meta['name']} does not have a host assigned")
        raise BackendError(f'container "{container}" in pod "{meta["name"]}" is waiting to '
                           f"start: {reason}")
    end = parse_time(term.get("finishedAt")) or None
    return Run(meta["name"], container, cont["image"], tuple(cont.get("args") or ()),
               parse_time(term.get("startedAt")) or now, end, int(term.get("exitCode") or 0))


def history(run: Run, now: float, tail: int | None) -> list[str]:
    """The lines of ``run`` up to ``now`` (or its end), the last ``tail`` of them.

    With ``tail=None`` the startup lines always lead, then the newest lines that fit in
    :data:`MAX_LINES` (a rotated log would have lost the startup; a demo should not).
    """
    render, period = _flavor(run.image)
    head = render(run, run.start, 0, "start")
    end = run.end if run.end is not None else now
    foot: list[str] = []
    if run.end is not None:  # a crash comes after the startup lines, however quick it was
        foot = render(run, max(end, run.start + 3), 0, "crash" if run.exit_code else "finish")
    body_start = run.start + 5
    count = 0 if run.exit_code else max(0, int((end - body_start) / period) + 1)
    need = MAX_LINES if tail is None else min(max(tail, 0), MAX_LINES)
    keep_head = tail is None  # the whole log: startup lines first, however long it ran
    budget = need - len(foot) - (len(head) if keep_head else 0)
    first = max(0, count - max(budget, 0))
    body = [line for k in range(first, count)
            for line in render(run, body_start + k * period + run.jitter(k), k, "tick")]
    lines = (head if keep_head or first == 0 else []) + body + foot
    return lines[-need:] if need else []


def live_line(run: Run, index: int, now: float) -> list[str]:
    """What the container writes while it is followed (line ``index`` since the follow)."""
    render, _ = _flavor(run.image)
    return render(run, now, index, "tick")
