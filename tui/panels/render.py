"""Pure: panel values (backends.metrics_models) to table rows, bars and summary text.

Kept free of widgets so the look of every number is tested without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlops_tui.backends.metrics_models import GpuAllocation, GpuStat, ModelStat, NodeStat
from mlops_tui.backends.models import Column, Row

BAR_WIDTH = 10


def bar(percent: float | None, width: int = BAR_WIDTH) -> str:
    """``█████░░░░░  52%``; a dash when the value is missing."""
    if percent is None:
        return "-"
    percent = max(0.0, min(100.0, percent))
    filled = round(percent / 100 * width)
    return "█" * filled + "░" * (width - filled) + f" {percent:3.0f}%"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


GPU_COLUMNS = (
    Column("NODE"), Column("GPU"), Column("MODEL"), Column("UTIL", numeric=True),
    Column("MEM", numeric=True), Column("POWER W", numeric=True), Column("TEMP C", numeric=True),
    Column("XID", numeric=True), Column("POD"),
)


def gpu_rows(gpus: Iterable[GpuStat]) -> list[Row]:
    rows = []
    for g in gpus:
        util = bar(g.util) + ("*" if g.util_source == "engine" else "")
        status = "error" if g.xid else ("warn" if g.idle_allocated else "")
        pod = f"{g.namespace}/{g.pod}" if g.pod else ""
        if g.idle_allocated:
            pod += "  ← idle"
        rows.append(Row(
            uid=f"{g.node}/{g.gpu}/{g.uuid}", name=g.gpu, namespace=g.node,
            cells=(g.node, g.gpu, g.model, util, bar(g.fb_used_pct), _num(g.power_w, "{:.0f}"),
                   _num(g.temp_c, "{:.0f}"), f"{g.xid:.0f}" if g.xid else "", pod),
            sort_keys=("", "", "", g.util if g.util is not None else -1,
                       g.fb_used_pct if g.fb_used_pct is not None else -1,
                       g.power_w or 0, g.temp_c or 0, g.xid, ""),
            status=status,
        ))
    return rows


MODEL_COLUMNS = (
    Column("MODEL"), Column("VER"), Column("POD"), Column("REQ/S", numeric=True),
    Column("FAIL/S", numeric=True), Column("AVG ms", numeric=True), Column("P50", numeric=True),
    Column("P95", numeric=True), Column("P99", numeric=True), Column("QUEUE ms", numeric=True),
    Column("COMPUTE ms", numeric=True), Column("BATCH", numeric=True),
    Column("PENDING", numeric=True),
)


def model_rows(models: Iterable[ModelStat]) -> list[Row]:
    rows = []
    for m in models:
        quantiles = ((_num(m.p50_ms), _num(m.p95_ms), _num(m.p99_ms))
                     if m.latency_kind == "quantiles" else ("avg only", "", ""))
        pod = f"{m.namespace}/{m.pod}" if m.namespace else m.pod
        rows.append(Row(
            uid=f"{m.model}/{m.version}/{m.namespace}/{m.pod}", name=m.model, namespace=pod,
            cells=(m.model, m.version, pod, f"{m.throughput_rps:.1f}", f"{m.failures_rps:.2f}",
                   _num(m.avg_latency_ms), *quantiles, _num(m.queue_ms), _num(m.compute_ms),
                   _num(m.avg_batch), f"{m.pending:.0f}"),
            sort_keys=("", "", "", m.throughput_rps, m.failures_rps, m.avg_latency_ms or 0,
                       m.p50_ms or 0, m.p95_ms or 0, m.p99_ms or 0, m.queue_ms or 0,
                       m.compute_ms or 0, m.avg_batch or 0, m.pending),
            status="error" if m.failures_rps > 0 else "",
        ))
    return rows


def gpu_summary(gpus: Iterable[GpuStat], allocation: GpuAllocation | None) -> str:
    """One line: requested vs allocatable (the scheduler's view) against what DCGM sees
    in use, and the allocated GPUs that sit idle."""
    gpus = list(gpus)
    busy = sum(1 for g in gpus if g.util is not None and g.util >= 5)
    idle = [g for g in gpus if g.idle_allocated]
    parts = []
    if allocation is not None:
        parts.append(f"requested {allocation.requested}/{allocation.allocatable} GPUs")
    parts.append(f"busy {busy}/{len(gpus)} seen by DCGM")
    if idle:
        names = ", ".join(f"{g.namespace}/{g.pod} ({g.node}/{g.gpu})" for g in idle[:4])
        more = f" +{len(idle) - 4}" if len(idle) > 4 else ""
        parts.append(f"⚠ {len(idle)} allocated but idle: {names}{more}")
    return " · ".join(parts)


def allocation_from_rows(columns: Iterable[Column], rows: Iterable[Row]) -> GpuAllocation | None:
    """Allocatable and requested GPUs summed over node rows (their GPU / GPU-REQ keys)."""
    names = [c.name for c in columns]
    if "GPU" not in names or "GPU-REQ" not in names:
        return None
    gpu, req = names.index("GPU"), names.index("GPU-REQ")
    allocatable = requested = 0
    for row in rows:
        keys = row.sort_keys
        if len(keys) > max(gpu, req):
            allocatable += int(keys[gpu] or 0)
            requested += int(keys[req] or 0)
    return GpuAllocation(allocatable, requested)


def node_summary(nodes: Iterable[NodeStat], limit: int = 6) -> str:
    """``nodes: gpu-node-1 cpu 12% mem 40% · …`` from node-exporter, "" without it."""
    nodes = list(nodes)
    parts = [f"{n.node} cpu {_num(n.cpu_pct, '{:.0f}')}% mem {_num(n.mem_pct, '{:.0f}')}%"
             for n in nodes[:limit]]
    more = f" · +{len(nodes) - limit} more" if len(nodes) > limit else ""
    return ("nodes: " + " · ".join(parts) + more) if parts else ""
