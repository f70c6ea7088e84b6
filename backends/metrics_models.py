"""Plain data of the metrics panels: what a metrics source returns for one refresh.

Frozen values, no I/O, no UI toolkit. A screen asks its source for one
:class:`MetricsSnapshot` per refresh; the snapshot holds every panel's numbers and series.
Which parts a screen has (:data:`PARTS`) is decided here, for every source alike: the
Prometheus query library and the demo both follow it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class Window(StrEnum):
    """The time windows the plots offer, with their Prometheus range and step."""

    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H6 = "6h"

    @property
    def seconds(self) -> int:
        return {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600}[self.value]

    @property
    def step(self) -> int:
        """Seconds between plotted points: 60-120 a window, a divisor of the window, so
        windows that end on a step boundary always hold the same points."""
        return {"5m": 5, "15m": 15, "1h": 30, "6h": 180}[self.value]

    def next(self) -> Window:
        order = list(Window)
        return order[(order.index(self) + 1) % len(order)]


class Screen(StrEnum):
    """Which panels a refresh is for; each costs one batched round of queries."""

    GPU = "gpu"  # per-GPU table and GPU plots
    MODELS = "models"  # per-model Triton table and latency/throughput plots
    PULSE = "pulse"  # a bit of both, cluster-wide


# The plotted series, by name; the dashboard draws one plot per name.
GPU_UTIL_SERIES = "gpu_util_range"  # utilization per GPU, percent
THROUGHPUT_SERIES = "triton_throughput_range"  # successful requests/s per model
LATENCY_SERIES = "triton_latency_range"  # average latency per model, ms


@dataclass(frozen=True, slots=True)
class ScreenParts:
    """What one screen shows: which tables, and which plots (series names)."""

    gpus: bool = False  # the per-GPU table and its summary line
    nodes: bool = False  # node-exporter CPU and memory under the GPU table
    models: bool = False  # the per-model Triton table
    series: tuple[str, ...] = ()


PARTS: dict[Screen, ScreenParts] = {
    Screen.GPU: ScreenParts(gpus=True, nodes=True, series=(GPU_UTIL_SERIES,)),
    Screen.MODELS: ScreenParts(models=True, series=(THROUGHPUT_SERIES, LATENCY_SERIES)),
    Screen.PULSE: ScreenParts(gpus=True, models=True, series=(THROUGHPUT_SERIES,)),
}

NO_GPU_SERIES = "no DCGM exporter series (DCGM_FI_DEV_*) found"
NO_MODEL_SERIES = "no Triton series (nv_inference_*) found"


def empty_notes(screen: Screen, *, gpus: bool, models: bool) -> tuple[str, ...]:
    """The "no data" notes of ``screen`` when its GPU or model table has nothing to show
    (``gpus`` / ``models``: whether there is something, or an error said instead)."""
    parts = PARTS[screen]
    return tuple(note for shown, something, note in ((parts.gpus, gpus, NO_GPU_SERIES),
                                                     (parts.models, models, NO_MODEL_SERIES))
                 if shown and not something)


@dataclass(frozen=True, slots=True)
class GpuStat:
    """One GPU (or MIG instance) as DCGM reports it; None where a series is absent."""

    node: str
    gpu: str  # index, or "0/mig-1g.10gb:3" for a MIG instance
    uuid: str
    model: str
    util: float | None  # percent 0-100
    util_source: str  # "util" (DCGM_FI_DEV_GPU_UTIL) or "engine" (GR_ENGINE_ACTIVE)
    fb_used_mib: float | None
    fb_free_mib: float | None
    power_w: float | None
    temp_c: float | None
    xid: float  # last XID error code, 0 when none
    namespace: str = ""
    pod: str = ""
    container: str = ""

    @property
    def allocated(self) -> bool:
        return bool(self.pod)

    @property
    def fb_used_pct(self) -> float | None:
        if self.fb_used_mib is None or self.fb_free_mib is None:
            return None
        total = self.fb_used_mib + self.fb_free_mib
        return 100.0 * self.fb_used_mib / total if total else None

    @property
    def idle_allocated(self) -> bool:
        """Held by a pod but doing (almost) nothing: the GPU someone should reclaim."""
        return self.allocated and self.util is not None and self.util < IDLE_UTIL_PCT


IDLE_UTIL_PCT = 5.0


def gpu_order(gpu: str) -> tuple:
    """Sort key of a GPU name: "2" before "10", a MIG slice ("0/1g.10gb:3") after its card."""
    head, _, rest = gpu.partition("/")
    return (int(head) if head.isdigit() else math.inf, head, rest)


@dataclass(frozen=True, slots=True)
class ModelStat:
    """One Triton model version on one server (pod), over the refresh window."""

    model: str
    version: str
    pod: str  # the scraped pod (or instance when not on Kubernetes)
    namespace: str
    throughput_rps: float
    failures_rps: float
    avg_latency_ms: float | None  # request duration delta / success delta
    queue_ms: float | None
    compute_ms: float | None  # input + infer + output
    avg_batch: float | None  # inference count / execution count
    pending: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    @property
    def latency_kind(self) -> str:
        return "quantiles" if self.p95_ms is not None else "avg only"


@dataclass(frozen=True, slots=True)
class NodeStat:
    node: str
    cpu_pct: float | None
    mem_pct: float | None


@dataclass(frozen=True, slots=True)
class Series:
    """One plotted line: ``points`` are (epoch seconds, value)."""

    name: str  # the query's name, e.g. "gpu_util"
    label: str  # what the legend says, e.g. "gpu-a100-1/0"
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class GpuAllocation:
    """The cluster's view of GPUs (from the node cache): what pods asked for."""

    allocatable: int
    requested: int


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything one refresh of a screen shows."""

    screen: Screen
    window: Window
    taken_at: float
    gpus: tuple[GpuStat, ...] = ()
    models: tuple[ModelStat, ...] = ()
    nodes: tuple[NodeStat, ...] = ()
    series: dict[str, tuple[Series, ...]] = field(default_factory=dict)
    queries: int | None = None  # queries this refresh sent; None: a source that sends none
    notes: tuple[str, ...] = ()  # "no data" facts, e.g. "no DCGM exporter series found"
    errors: tuple[str, ...] = ()  # queries that failed ("gpu_util: bad query ..."): not data


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of an instant query's answer: its labels and its value now."""

    labels: dict[str, str]
    value: float  # may be NaN or ±Inf, as PromQL computes them
