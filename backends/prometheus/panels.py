"""Pure: Prometheus answers (JSON as the API returns it) in, panel values out.

No I/O here, so every join rule (the MIG utilization fallback, quantiles or "avg only",
which label names the node) is tested with fixtures as well as against a real server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from mlops_tui.backends.metrics_models import (
    PARTS,
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
from mlops_tui.backends.prometheus.queries import Query

Result = list[dict[str, Any]]

_NODE_LABELS = ("Hostname", "kubernetes_node", "node", "instance")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def selector(query: Query, *, node: str | None = None, model: str | None = None,
             pods: str | None = None) -> str:
    """Extra label matchers narrowing ``query`` to one node's GPUs, one model, or the
    models served by pods whose names start with ``pods``."""
    matchers = []
    if node and query.name.startswith("gpu_"):
        matchers.append(f'Hostname="{_quote(node)}"')
    if query.name.startswith("triton_"):
        if model:
            matchers.append(f'model="{_quote(model)}"')
        if pods:
            matchers.append(f'pod=~"{_quote(re.escape(pods))}.*"')
    return "{" + ",".join(matchers) + "}" if matchers else ""


def _value(sample: dict[str, Any]) -> float | None:
    try:
        number = float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _node_of(labels: dict[str, str]) -> str:
    for key in _NODE_LABELS:
        if labels.get(key):
            return labels[key].split(":")[0] if key == "instance" else labels[key]
    return ""


def _gpu_key(labels: dict[str, str]) -> tuple[str, str, str]:
    gpu = labels.get("gpu", "")
    if labels.get("GPU_I_ID"):
        gpu = f"{gpu}/{labels.get('GPU_I_PROFILE', 'mig')}:{labels['GPU_I_ID']}"
    return _node_of(labels), gpu, labels.get("UUID", "")


def _by_key(result: Result, key=_gpu_key) -> dict[tuple, tuple[dict[str, str], float | None]]:
    out = {}
    for sample in result or ():
        labels = sample.get("metric") or {}
        out[key(labels)] = (labels, _value(sample))
    return out


def build_gpus(results: dict[str, Result]) -> tuple[GpuStat, ...]:
    util = _by_key(results.get("gpu_util", []))
    engine = _by_key(results.get("gpu_engine_active", []))
    fields = {name: _by_key(results.get(name, [])) for name in
              ("gpu_fb_used", "gpu_fb_free", "gpu_power", "gpu_temp", "gpu_xid")}
    keys = set(util) | set(engine) | {k for f in fields.values() for k in f}
    stats = []
    for key in keys:
        labels = next((src[key][0] for src in (util, engine, *fields.values()) if key in src),
                      {})
        value, source = util.get(key, ({}, None))[1], "util"
        engine_value = engine.get(key, ({}, None))[1]
        # MIG instances report no GPU_UTIL (or 0): the engine-active ratio is the truth
        # there. A whole GPU that reads 0 on both is idle, not a MIG fallback.
        if engine_value is not None and (value is None or (value == 0 and engine_value > 0)):
            value, source = engine_value, "engine"

        def get(name: str, key=key) -> float | None:
            return fields[name].get(key, ({}, None))[1]

        stats.append(GpuStat(
            node=key[0], gpu=key[1], uuid=key[2], model=labels.get("modelName", ""),
            util=value, util_source=source, fb_used_mib=get("gpu_fb_used"),
            fb_free_mib=get("gpu_fb_free"), power_w=get("gpu_power"),
            temp_c=get("gpu_temp"), xid=get("gpu_xid") or 0.0,
            namespace=labels.get("namespace", "") or labels.get("exported_namespace", ""),
            pod=labels.get("pod", "") or labels.get("exported_pod", ""),
            container=labels.get("container", "") or labels.get("exported_container", ""),
        ))
    return tuple(sorted(stats, key=lambda g: (g.node, gpu_order(g.gpu))))


def _model_key(labels: dict[str, str]) -> tuple[str, str, str, str]:
    pod = labels.get("pod") or labels.get("instance", "")
    return labels.get("model", ""), labels.get("version", ""), pod, labels.get("namespace", "")


def build_models(results: dict[str, Result]) -> tuple[ModelStat, ...]:
    named = {name: _by_key(results.get(name, []), _model_key) for name in (
        "triton_success_rate", "triton_failure_rate", "triton_avg_latency", "triton_queue",
        "triton_compute", "triton_avg_batch", "triton_pending", "triton_histogram_p95")}
    quantiles: dict[tuple, dict[str, float]] = {}
    for sample in results.get("triton_quantiles", []) or ():
        labels = sample.get("metric") or {}
        value = _value(sample)
        if value is not None and labels.get("quantile"):
            quantiles.setdefault(_model_key(labels), {})[labels["quantile"]] = value
    keys = set(named["triton_success_rate"]) | set(named["triton_pending"]) | set(quantiles)
    stats = []
    for key in keys:
        if not key[0]:
            continue

        def get(name: str, key=key) -> float | None:
            return named[name].get(key, ({}, None))[1]

        q = quantiles.get(key, {})
        p95 = q.get("0.95", get("triton_histogram_p95"))
        stats.append(ModelStat(
            model=key[0], version=key[1], pod=key[2], namespace=key[3],
            throughput_rps=get("triton_success_rate") or 0.0,
            failures_rps=get("triton_failure_rate") or 0.0,
            avg_latency_ms=get("triton_avg_latency"), queue_ms=get("triton_queue"),
            compute_ms=get("triton_compute"), avg_batch=get("triton_avg_batch"),
            pending=get("triton_pending") or 0.0,
            p50_ms=q.get("0.5"), p95_ms=p95, p99_ms=q.get("0.99"),
        ))
    return tuple(sorted(stats, key=lambda m: (m.model, m.version, m.namespace, m.pod)))


def build_nodes(results: dict[str, Result]) -> tuple[NodeStat, ...]:
    cpu = {_node_of(s.get("metric") or {}): _value(s) for s in results.get("node_cpu", [])}
    mem = {_node_of(s.get("metric") or {}): _value(s) for s in results.get("node_mem", [])}
    return tuple(NodeStat(node, cpu.get(node), mem.get(node))
                 for node in sorted(set(cpu) | set(mem)) if node)


def _legend(query: str, labels: dict[str, str]) -> str:
    if query.startswith("gpu_"):
        return f"{_node_of(labels)}/{labels.get('gpu', '?')}"
    return labels.get("model") or ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def build_series(results: dict[str, Result], names: Iterable[str]) -> dict[str, tuple[Series, ...]]:
    out: dict[str, tuple[Series, ...]] = {}
    for name in names:
        lines = []
        for sample in results.get(name, []) or ():
            points = []
            for ts, raw in sample.get("values") or ():
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    continue
                if not (math.isnan(value) or math.isinf(value)):
                    points.append((float(ts), value))
            lines.append(Series(name, _legend(name, sample.get("metric") or {}),
                                tuple(points)))
        out[name] = tuple(sorted(lines, key=lambda s: s.label))
    return out


def build(screen: Screen, window: Window, now: float, results: dict[str, Result],
          query_count: int | None, errors: dict[str, str] | None = None) -> MetricsSnapshot:
    """The snapshot of ``screen`` from the answers by query name. ``errors``: the queries
    Prometheus answered with an error; a table fed by one of them is not "no data"."""
    errors = errors or {}
    parts = PARTS[screen]
    gpus = build_gpus(results) if parts.gpus else ()
    models = build_models(results) if parts.models else ()
    nodes = build_nodes(results) if parts.nodes else ()
    notes = empty_notes(screen, gpus=bool(gpus) or any(n.startswith("gpu_") for n in errors),
                        models=bool(models) or any(n.startswith("triton_") for n in errors))
    return MetricsSnapshot(screen=screen, window=window, taken_at=now, gpus=gpus,
                           models=models, nodes=nodes,
                           series=build_series(results, parts.series), queries=query_count,
                           notes=notes,
                           errors=tuple(f"{name}: {text}" for name, text in errors.items()))
