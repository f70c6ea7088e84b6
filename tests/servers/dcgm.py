"""A fixture NVIDIA DCGM exporter: THE ONE SYNTHETIC SERVER of the Prometheus tests.

There is no GPU on these machines (nor on CI's), so no real dcgm-exporter can run and
Triton reports no ``nv_gpu_*`` series. This module stands in for dcgm-exporter only: a
threaded HTTP server on 127.0.0.1 that serves, on ``/metrics``, the Prometheus text
exposition dcgm-exporter 3.x writes, with its metric names, HELP/TYPE lines and labels:

- every series: ``gpu`` (index), ``UUID``, ``pci_bus_id``, ``device`` (``nvidia<N>``),
  ``modelName``, ``Hostname``, ``DCGM_FI_DRIVER_VERSION``;
- a GPU allocated to a pod (the exporter's kubelet pod-resources mapping): also
  ``container``, ``namespace``, ``pod``;
- a MIG instance: also ``GPU_I_PROFILE`` (e.g. ``1g.10gb``) and ``GPU_I_ID``; its
  ``UUID``/``gpu``/``device`` are the parent GPU's. MIG instances have no
  ``DCGM_FI_DEV_GPU_UTIL`` (DCGM does not report it for MIG): use
  ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (a 0..1 ratio) there.

Everything else (Prometheus scraping it, the queries over it) is real. Values can be
changed while it runs (:meth:`DcgmExporter.set`) and the exporter can be made to fail
(:attr:`DcgmExporter.healthy`) to test a down target.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: HELP texts of dcgm-exporter's default counters (etc/default-counters.csv)
METRICS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "Memory utilization (in %).",
    "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
    "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
    "DCGM_FI_DEV_GPU_TEMP": "GPU temperature (in C).",
    "DCGM_FI_DEV_SM_CLOCK": "SM frequency (in MHz).",
    "DCGM_FI_DEV_XID_ERRORS": "Value of the last XID error encountered.",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
}
DRIVER_VERSION = "535.183.01"

#: the label names in the order dcgm-exporter writes them
_BASE_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName")
_MIG_LABELS = ("GPU_I_PROFILE", "GPU_I_ID")
_TAIL_LABELS = ("Hostname", "DCGM_FI_DRIVER_VERSION")
_POD_LABELS = ("container", "namespace", "pod")

GpuKey = tuple[str, str | None]  # (UUID, GPU_I_ID or None)


class _Gpu:
    """One exported device: a whole GPU or one MIG instance of it."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        gpu = int(spec["gpu"])
        mig_id = spec.get("mig_instance")
        labels: dict[str, str] = {
            "gpu": str(gpu),
            "UUID": spec["uuid"],
            "pci_bus_id": spec.get("pci_bus_id", f"00000000:{0x10 + gpu:02X}:00.0"),
            "device": spec.get("device", f"nvidia{gpu}"),
            "modelName": spec.get("model_name", "NVIDIA A100-SXM4-80GB"),
        }
        if mig_id is not None:
            labels["GPU_I_PROFILE"] = spec["mig_profile"]
            labels["GPU_I_ID"] = str(mig_id)
        labels["Hostname"] = spec["hostname"]
        labels["DCGM_FI_DRIVER_VERSION"] = spec.get("driver_version", DRIVER_VERSION)
        if spec.get("pod"):
            labels["container"] = spec.get("container", "")
            labels["namespace"] = spec.get("namespace", "default")
            labels["pod"] = spec["pod"]
        self.labels = labels
        self.key: GpuKey = (spec["uuid"], None if mig_id is None else str(mig_id))
        self.values: dict[str, float] = {k: float(v) for k, v in spec.get("values", {}).items()}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


class DcgmExporter:
    """Serves DCGM metrics for ``gpus`` on ``http://127.0.0.1:<port>/metrics``.

    Each GPU is a dict:

    ``hostname``, ``gpu`` (index), ``uuid`` (``GPU-...``), ``model_name``; optional
    ``pod``, ``namespace``, ``container`` (allocated to a pod), ``mig_instance`` and
    ``mig_profile`` (a MIG instance of GPU ``uuid``), ``device``, ``pci_bus_id``,
    ``driver_version``; and ``values``: ``{metric name: number}``, e.g.
    ``{"DCGM_FI_DEV_GPU_UTIL": 87, "DCGM_FI_DEV_FB_USED": 30210}``. A metric absent from
    ``values`` is not exported for that GPU.
    """

    def __init__(self, gpus: Iterable[Mapping[str, Any]], port: int = 0) -> None:
        self._initial = [copy.deepcopy(dict(g)) for g in gpus]
        self._lock = threading.Lock()
        self._gpus: dict[GpuKey, _Gpu] = {}
        self._load(self._initial)
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: False: ``/metrics`` answers 503 (a failing exporter, target ``down``)
        self.healthy = True
        #: how many times ``/metrics`` was served
        self.scrapes = 0

    def _load(self, specs: Iterable[Mapping[str, Any]]) -> None:
        gpus: dict[GpuKey, _Gpu] = {}
        for spec in specs:
            g = _Gpu(spec)
            if g.key in gpus:
                raise ValueError(f"duplicate GPU {g.key}")
            gpus[g.key] = g
        with self._lock:
            self._gpus = gpus

    # ---- lifecycle
    def start(self) -> Self:
        if self._httpd is not None:
            return self
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                if not exporter.healthy:
                    self.send_error(503, "DCGM unavailable")
                    return
                body = exporter.render().encode()
                with exporter._lock:
                    exporter.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="dcgm-exporter", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the port is kept: :meth:`start` binds it again)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/metrics"

    # ---- values
    def set(self, uuid: str, metric: str, value: float | None, *, mig_instance: Any = None) -> None:
        """Set ``metric`` of GPU ``uuid`` (or of its MIG instance ``mig_instance``);
        ``None`` removes the series."""
        key: GpuKey = (uuid, None if mig_instance is None else str(mig_instance))
        with self._lock:
            if key not in self._gpus:
                raise KeyError(f"no GPU {key}; have {sorted(self._gpus, key=str)}")
            if value is None:
                self._gpus[key].values.pop(metric, None)
            else:
                self._gpus[key].values[metric] = float(value)

    def get(self, uuid: str, metric: str, *, mig_instance: Any = None) -> float | None:
        key: GpuKey = (uuid, None if mig_instance is None else str(mig_instance))
        with self._lock:
            return self._gpus[key].values.get(metric)

    def reset(self) -> None:
        """Back to the GPUs and values given to the constructor; healthy again."""
        self._load(copy.deepcopy(self._initial))
        self.healthy = True

    def gpus(self) -> list[dict[str, str]]:
        """The label sets of the exported devices."""
        with self._lock:
            return [dict(g.labels) for g in self._gpus.values()]

    def render(self) -> str:
        """The exposition text, one family per metric, as dcgm-exporter orders it."""
        with self._lock:
            gpus = list(self._gpus.values())
            names = [m for m in METRICS if any(m in g.values for g in gpus)]
            names += sorted({m for g in gpus for m in g.values} - set(METRICS))
            lines: list[str] = []
            for name in names:
                lines.append(f"# HELP {name} {METRICS.get(name, name)}")
                lines.append(f"# TYPE {name} gauge")
                for g in gpus:
                    if name in g.values:
                        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in g.labels.items())
                        lines.append(f"{name}{{{labels}}} {_fmt(g.values[name])}")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- fixture GPUs

#: what the ``dcgm_exporter`` fixture serves: node ``gpu-node-1`` with two A100s (GPU 0
#: allocated to the Triton pod, GPU 1 idle) and ``gpu-node-2`` with an A100 in MIG mode
#: (two instances; instance 1 allocated to a pod). Tests that change values call
#: ``reset()`` afterwards.
TRITON_NAMESPACE = "serving"
TRITON_POD = "triton-0"
A100 = "NVIDIA A100-SXM4-80GB"
UUID_BUSY = "GPU-6f1c2a55-0b1e-4d2c-9f11-5a2b7c3d4e01"
UUID_IDLE = "GPU-6f1c2a55-0b1e-4d2c-9f11-5a2b7c3d4e02"
UUID_MIG = "GPU-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03"

DEFAULT_GPUS: tuple[dict[str, Any], ...] = (
    {
        "hostname": "gpu-node-1",
        "gpu": 0,
        "uuid": UUID_BUSY,
        "model_name": A100,
        "pod": TRITON_POD,
        "namespace": TRITON_NAMESPACE,
        "container": "triton",
        "values": {
            "DCGM_FI_DEV_GPU_UTIL": 87,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.83,
            "DCGM_FI_DEV_FB_USED": 30210,
            "DCGM_FI_DEV_FB_FREE": 51710,
            "DCGM_FI_DEV_POWER_USAGE": 312.5,
            "DCGM_FI_DEV_GPU_TEMP": 64,
            "DCGM_FI_DEV_XID_ERRORS": 0,
        },
    },
    {
        "hostname": "gpu-node-1",
        "gpu": 1,
        "uuid": UUID_IDLE,
        "model_name": A100,
        "values": {
            "DCGM_FI_DEV_GPU_UTIL": 0,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.0,
            "DCGM_FI_DEV_FB_USED": 0,
            "DCGM_FI_DEV_FB_FREE": 81920,
            "DCGM_FI_DEV_POWER_USAGE": 61.2,
            "DCGM_FI_DEV_GPU_TEMP": 33,
            "DCGM_FI_DEV_XID_ERRORS": 0,
        },
    },
    {
        "hostname": "gpu-node-2",
        "gpu": 0,
        "uuid": UUID_MIG,
        "model_name": A100,
        "mig_instance": 1,
        "mig_profile": "1g.10gb",
        "pod": "llm-embedder-7d9f-abcde",
        "namespace": "team-a",
        "container": "embedder",
        "values": {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.42,
            "DCGM_FI_DEV_FB_USED": 6120,
            "DCGM_FI_DEV_FB_FREE": 3620,
            "DCGM_FI_DEV_POWER_USAGE": 180.0,
            "DCGM_FI_DEV_GPU_TEMP": 51,
            "DCGM_FI_DEV_XID_ERRORS": 0,
        },
    },
    {
        "hostname": "gpu-node-2",
        "gpu": 0,
        "uuid": UUID_MIG,
        "model_name": A100,
        "mig_instance": 2,
        "mig_profile": "3g.40gb",
        "values": {
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.0,
            "DCGM_FI_DEV_FB_USED": 13,
            "DCGM_FI_DEV_FB_FREE": 40179,
            "DCGM_FI_DEV_POWER_USAGE": 180.0,
            "DCGM_FI_DEV_GPU_TEMP": 51,
            "DCGM_FI_DEV_XID_ERRORS": 0,
        },
    },
)
