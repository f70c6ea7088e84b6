"""The demo metrics source (``mlops-tui --demo``): simulated DCGM and Triton numbers.

The GPUs, their holders and the Triton servers come from the demo world (``gpu_layout``),
so the panels agree with the pod and node screens. Every number is a smooth deterministic
function of (seed, entity, time): a base per workload plus slow sines, so plots look alive
yet two snapshots at the same instant are identical. The story a newcomer should see: busy
inference and training GPUs, two GPUs held by pods that do nothing (a crash-looping
server, an idle notebook), one hot GPU that logged XID 79, one model without latency
quantiles that also fails requests. Never a stand-in for Prometheus in backend tests.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from mlops_tui.backends.demo.gpu_layout import (
    H100,
    Allocator,
    GpuSlot,
    Layout,
    ModelPod,
    fixed_layout,
    from_world,
)
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.metrics_models import (
    GPU_UTIL_SERIES,
    LATENCY_SERIES,
    PARTS,
    THROUGHPUT_SERIES,
    GpuStat,
    MetricsSnapshot,
    ModelStat,
    NodeStat,
    Screen,
    Series,
    Window,
    empty_notes,
    gpu_order,
)
from mlops_tui.backends.models import MetricsSettings

FAULTY_GPU = ("gpu-h100-1", "5")  # runs hot and logged an XID error
FAULTY_XID = 79.0  # "GPU has fallen off the bus"
TRAFFIC_SWING = 0.25  # Triton traffic moves +-25% around its average
_TAU = 2 * math.pi


@dataclass(frozen=True, slots=True)
class Load:
    """How a workload uses its GPUs and, for a Triton server, how its model is served."""

    util: float  # GPU utilization at average load, percent; < 5 idles
    swing: float = 0.18  # relative amplitude of the utilization swing
    fb: float = 0.3  # share of the GPU memory in use
    rps: float = 0.0  # successful requests per second over all replicas
    latency_ms: float = 10.0  # average request latency at average load
    batch: float = 1.0
    failures: float = 0.0  # failed requests per second over all replicas
    quantiles: bool = True  # the server exports its latency summary (p50/p95/p99)


LOADS: dict[str, Load] = {
    "triton-resnet50": Load(68, fb=0.21, rps=1200, latency_ms=5.5, batch=8),
    "triton-bert": Load(52, fb=0.34, rps=300, latency_ms=28, batch=4),
    "triton-gpt2": Load(2.0, fb=0.17, rps=9, latency_ms=140, failures=2.5, quantiles=False),
    "triton-llama": Load(63, fb=0.78, rps=35, latency_ms=450, batch=16),
    "triton-densenet": Load(38, fb=0.52, rps=450, latency_ms=9, batch=4),
    "jupyter-notebook": Load(1.2, fb=0.08),
    "train-llama": Load(95, swing=0.03, fb=0.91),
    "llm-finetune": Load(90, swing=0.05, fb=0.86),
}


# -- smooth deterministic signals -----------------------------------------------------------
@lru_cache(maxsize=4096)
def unit(seed: int, key: str) -> float:
    """A stable number in [0, 1) for (seed, key)."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=4096)
def _phases(seed: int, key: str, n: int) -> tuple[float, ...]:
    return tuple(unit(seed, f"{key}#{i}") for i in range(n))


def wave(seed: int, key: str, t: float, periods: tuple[float, ...] = (5400.0, 780.0, 47.0),
         weights: tuple[float, ...] = (1.0, 0.45, 0.15)) -> float:
    """Slow sines with phases from (seed, key), scaled into [-1, 1]."""
    total = 0.0
    for p, w, phase in zip(periods, weights, _phases(seed, key, len(periods)), strict=True):
        total += w * math.sin(_TAU * (t / p + phase))
    return total / sum(weights)


def load_for(app: str, seed: int) -> Load:
    known = LOADS.get(app)
    if known is not None:
        return known
    u = [unit(seed, f"load:{app}:{i}") for i in range(4)]
    return Load(30 + 50 * u[0], fb=0.2 + 0.5 * u[1], rps=50 + 400 * u[2],
                latency_ms=5 + 60 * u[3])


def traffic(seed: int, app: str, t: float) -> float:
    """A model's traffic relative to its average (shared by its servers and their GPUs)."""
    return 1.0 + TRAFFIC_SWING * wave(seed, f"traffic:{app}", t)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


# -- GPUs -----------------------------------------------------------------------------------
def gpu_util(seed: int, slot: GpuSlot, t: float) -> float:
    if not slot.pod or t < slot.since:
        return 0.0
    load = load_for(slot.app, seed)
    key = f"gpu:{slot.node}/{slot.gpu}"
    if not slot.ready or load.util < 5:  # held, but nothing runs on it
        base = load.util if load.util < 5 else 1.5
        return round(_clamp(base + 1.2 * wave(seed, key, t), 0.0, 4.5), 1)
    swing = load.swing / TRAFFIC_SWING * (traffic(seed, slot.app, t) - 1.0)
    jitter = 2.5 * wave(seed, key, t, (300.0, 37.0), (1.0, 0.6))
    return round(_clamp(load.util * (1.0 + swing) + jitter, 6.0, 99.5), 1)


def gpu_stats(seed: int, slots: tuple[GpuSlot, ...], t: float) -> tuple[GpuStat, ...]:
    utils = {(s.node, s.gpu): gpu_util(seed, s, t) for s in slots}
    cards: dict[tuple[str, str], list[float]] = {}
    for s in slots:  # power and temperature belong to the card: MIG slices share them
        cards.setdefault((s.node, s.parent), []).append(utils[(s.node, s.gpu)])
    out = []
    for s in slots:
        util = utils[(s.node, s.gpu)]
        card_util = sum(cards[(s.node, s.parent)]) / len(cards[(s.node, s.parent)])
        key = f"card:{s.node}/{s.parent}"
        idle_w, max_w = (72.0, 700.0) if s.model == H100 else (62.0, 400.0)
        power = idle_w + (max_w - idle_w) * 0.9 * (card_util / 100) ** 1.2
        power += 1.5 * wave(seed, key + ":power", t, (61.0, 13.0), (1.0, 0.5))
        hot = (s.node, s.parent) == FAULTY_GPU
        temp = 89.0 + 1.2 * wave(seed, key, t) if hot else (
            31.0 + 0.42 * card_util + 1.5 * wave(seed, key + ":temp", t))
        used = 0.0
        if s.pod and t >= s.since:
            fb = load_for(s.app, seed).fb
            used = round(s.total_mib * _clamp(fb + 0.02 * wave(seed, key + ":fb", t), 0, 1))
        out.append(GpuStat(
            node=s.node, gpu=s.gpu, uuid=s.uuid, model=s.model, util=util,
            util_source="engine" if s.mig else "util", fb_used_mib=float(used),
            fb_free_mib=float(round(s.total_mib) - used), power_w=round(power, 1),
            temp_c=round(temp), xid=FAULTY_XID if hot else 0.0, namespace=s.namespace,
            pod=s.pod, container=s.container))
    return tuple(out)


# -- Triton ---------------------------------------------------------------------------------
def _shares(seed: int, pods: list[ModelPod], t: float) -> dict[str, float]:
    """How a model's traffic splits over its servers (sums to 1)."""
    weights = {p.pod: 1.0 + 0.12 * wave(seed, f"share:{p.pod}", t, (900.0, 110.0), (1, .4))
               for p in pods}
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


def model_latency(seed: int, app: str, t: float) -> float:
    """Average latency (ms) of a model: it rises with its traffic."""
    load = load_for(app, seed)
    busy = traffic(seed, app, t) - 1.0
    return load.latency_ms * (0.95 + 0.8 * busy + 0.04 * wave(seed, f"lat:{app}", t, (97.0,),
                                                               (1.0,)))


def model_stats(seed: int, pods: tuple[ModelPod, ...], t: float) -> tuple[ModelStat, ...]:
    by_app: dict[str, list[ModelPod]] = {}
    for p in pods:
        by_app.setdefault(p.app, []).append(p)
    out = []
    for app, servers in by_app.items():
        load, level = load_for(app, seed), traffic(seed, app, t)
        shares = _shares(seed, servers, t)
        for p in servers:
            share = shares[p.pod]
            avg = model_latency(seed, app, t) * (1.0 + 0.06 * unit(seed, f"pod:{p.pod}"))
            queue = avg * (0.06 + 0.2 * max(0.0, level - 0.9))
            rps = load.rps * level * share
            fail = load.failures * share * (1.0 + 0.3 * wave(seed, f"fail:{p.pod}", t))
            quantiles = load.quantiles
            out.append(ModelStat(
                model=p.model, version="1", pod=p.pod, namespace=p.namespace,
                throughput_rps=round(rps, 2), failures_rps=round(fail, 3),
                avg_latency_ms=round(avg, 2), queue_ms=round(queue, 2),
                compute_ms=round(avg * 0.9 - queue * 0.5, 2),
                avg_batch=round(max(1.0, load.batch * (0.75 + 0.25 * level)), 2),
                pending=float(round(rps * queue / 1000)),
                p50_ms=round(avg * 0.88, 2) if quantiles else None,
                p95_ms=round(avg * 1.6, 2) if quantiles else None,
                p99_ms=round(avg * 2.3, 2) if quantiles else None))
    return tuple(sorted(out, key=lambda m: (m.model, m.version, m.namespace, m.pod)))


def node_stats(seed: int, layout: Layout, t: float) -> tuple[NodeStat, ...]:
    return tuple(NodeStat(
        n.node,
        round(_clamp(100 * (0.12 + 0.55 * n.cpu) + 6 * wave(seed, f"cpu:{n.node}", t), 1, 99), 1),
        round(_clamp(100 * (0.18 + 0.6 * n.mem) + 2 * wave(seed, f"mem:{n.node}", t), 1, 99), 1))
        for n in sorted(layout.nodes, key=lambda n: n.node))


# -- plots ----------------------------------------------------------------------------------
def times(window: Window, now: float) -> list[float]:
    """The instants of a range query over ``window``: one per step, the last at ``now`` (so
    a plot ends at the table's value; the first is within a step of the window's start)."""
    count = window.seconds // window.step + 1
    return [now - (count - 1 - k) * window.step for k in range(count)]


def gpu_series(seed: int, slots: tuple[GpuSlot, ...], ts: list[float]) -> tuple[Series, ...]:
    return tuple(sorted((Series(GPU_UTIL_SERIES, f"{s.node}/{s.gpu}",
                                tuple((t, gpu_util(seed, s, t)) for t in ts)) for s in slots),
                        key=lambda s: s.label))


def model_throughput(seed: int, app: str, t: float) -> float:
    """A model's successful requests/s over all its servers."""
    return round(load_for(app, seed).rps * traffic(seed, app, t), 2)


def model_series(seed: int, pods: tuple[ModelPod, ...], ts: list[float], name: str,
                 value: Callable[[int, str, float], float]) -> tuple[Series, ...]:
    """Per model: ``value(seed, app, t)`` at each instant from when it started serving."""
    models: dict[str, tuple[str, float]] = {}
    for p in pods:
        app, since = models.get(p.model, (p.app, p.since))
        models[p.model] = (app, min(since, p.since))
    return tuple(Series(name, model, tuple((t, value(seed, app, t)) for t in ts if t >= since))
                 for model, (app, since) in sorted(models.items()))


# Each plotted series (metrics_models.PARTS names them) from (seed, GPUs, models, instants).
SERIES: dict[str, Callable[[int, tuple[GpuSlot, ...], tuple[ModelPod, ...], list[float]],
                           tuple[Series, ...]]] = {
    GPU_UTIL_SERIES: lambda seed, slots, pods, ts: gpu_series(seed, slots, ts),
    THROUGHPUT_SERIES: lambda seed, slots, pods, ts: model_series(
        seed, pods, ts, THROUGHPUT_SERIES, model_throughput),
    LATENCY_SERIES: lambda seed, slots, pods, ts: model_series(
        seed, pods, ts, LATENCY_SERIES, lambda s, app, t: round(model_latency(s, app, t), 2)),
}


# -- the source -----------------------------------------------------------------------------
WorldRef = World | Callable[[], World] | None


class DemoMetricsSource:
    """Implements :class:`backends.protocols.MetricsSource` with simulated numbers.

    ``world``: a demo World, or a callable returning the current one (the demo backend's
    context can change); None uses a fixed layout like the demo GPU cluster. ``frozen``
    pins the clock at its first reading, so every snapshot is of the same instant.
    """

    name = "demo"

    def __init__(self, seed: int = 0, now: Callable[[], float] = time.time,
                 frozen: bool = False, world: WorldRef = None) -> None:
        self.seed = seed
        self.frozen = frozen
        self._now = now
        self._pinned: float | None = None
        self._world = world
        self._allocator: tuple[World, Allocator] | None = None
        self._fixed: Layout | None = None
        self._failing = False

    def describe(self) -> str:
        return "demo metrics (simulated)"

    def fail(self, failing: bool = True) -> None:
        """Simulate an outage: while on, every snapshot raises ConnectionFailed."""
        self._failing = failing

    async def close(self) -> None:
        return None

    def time(self) -> float:
        if not self.frozen:
            return self._now()
        if self._pinned is None:
            self._pinned = self._now()
        return self._pinned

    def layout(self) -> Layout:
        world = self._world() if callable(self._world) else self._world
        if world is None:
            if self._fixed is None:
                self._fixed = fixed_layout()
            return self._fixed
        if self._allocator is None or self._allocator[0] is not world:
            self._allocator = (world, Allocator())  # a new context: devices start afresh
        return from_world(world, self._allocator[1])

    async def snapshot(self, screen: Screen, window: Window, *, node: str | None = None,
                       model: str | None = None, pods: str | None = None) -> MetricsSnapshot:
        if self._failing:
            raise ConnectionFailed("cannot reach Prometheus at demo: connection refused")
        screen, window = Screen(screen), Window(window)
        now, layout, seed = self.time(), self.layout(), self.seed
        slots = tuple(sorted((s for s in layout.gpus if not node or s.node == node),
                             key=lambda s: (s.node, gpu_order(s.gpu))))
        prefix = pods
        pods = tuple(p for p in layout.models if (not model or p.model == model)
                     and (not prefix or p.pod.startswith(prefix)))
        ts = times(window, now)
        parts = PARTS[screen]
        gpus = gpu_stats(seed, slots, now) if parts.gpus else ()
        models = model_stats(seed, pods, now) if parts.models else ()
        # like node-exporter: not narrowed to the node
        nodes = node_stats(seed, layout, now) if parts.nodes else ()
        series = {name: SERIES[name](seed, slots, pods, ts) for name in parts.series}
        # queries=None: the demo sends none, and reports no count it did not spend
        return MetricsSnapshot(screen=screen, window=window, taken_at=now, gpus=gpus,
                               models=models, nodes=nodes, series=series, queries=None,
                               notes=empty_notes(screen, gpus=bool(gpus),
                                                 models=bool(models)))


async def create_source(settings: MetricsSettings, cluster: object = None) -> DemoMetricsSource:
    """The entry point ``mlops_tui.metrics: demo``. With the demo backend the GPUs, pods
    and models follow its world (and its seed, clock and freezing); otherwise a fixed
    layout like the demo GPU cluster's."""
    from mlops_tui.backends.demo.backend import DemoBackend

    if isinstance(cluster, DemoBackend):
        backend = cluster
        return DemoMetricsSource(seed=getattr(backend, "_seed", 0), now=backend.now,
                                 frozen=backend.frozen, world=lambda: backend.world)
    return DemoMetricsSource()
