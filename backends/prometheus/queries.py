"""The query library: every PromQL a panel runs, named and documented in one place.

``{sel}`` is replaced by extra label matchers (a node, a model) and ``{r}`` by the rate
window. Each query is tested against a real Prometheus (tests/backends/test_prometheus.py).
Label conventions: DCGM exporter series carry ``Hostname`` (the node), ``gpu``, ``UUID``,
``modelName`` and, for allocated GPUs, ``namespace``/``pod``/``container``; MIG instances
add ``GPU_I_ID``/``GPU_I_PROFILE``. Triton series carry ``model`` and ``version``; the
scrape config adds ``pod``/``namespace`` on Kubernetes (``instance`` elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_tui.backends.metrics_models import (
    GPU_UTIL_SERIES,
    IDLE_UTIL_PCT,
    LATENCY_SERIES,
    PARTS,
    THROUGHPUT_SERIES,
    Screen,
    ScreenParts,
)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    promql: str
    doc: str
    range: bool = False  # a plot: run as query_range over the window

    def render(self, sel: str = "", rate_window: str = "1m") -> str:
        return self.promql.replace("{sel}", sel).replace("{r}", rate_window)


_TRITON_BY = "model, version, pod, namespace, instance"


def _per_success(metric: str) -> str:
    """Average of a Triton cumulative duration per successful request, in ms."""
    return (f"sum by ({_TRITON_BY}) (increase({metric}{{sel}}[{{r}}])) / "
            f"sum by ({_TRITON_BY}) (increase(nv_inference_request_success{{sel}}[{{r}}]))"
            " / 1000")


GPU = (
    Query("gpu_util", "DCGM_FI_DEV_GPU_UTIL{sel}",
          "GPU utilization in percent (DCGM_FI_DEV_GPU_UTIL); absent or 0 on MIG instances."),
    Query("gpu_engine_active", "DCGM_FI_PROF_GR_ENGINE_ACTIVE{sel} * 100",
          "Graphics engine active ratio as percent: the utilization to use where GPU_UTIL "
          "is absent or reads 0 (MIG)."),
    Query("gpu_fb_used", "DCGM_FI_DEV_FB_USED{sel}", "Framebuffer memory used, MiB."),
    Query("gpu_fb_free", "DCGM_FI_DEV_FB_FREE{sel}", "Framebuffer memory free, MiB."),
    Query("gpu_power", "DCGM_FI_DEV_POWER_USAGE{sel}", "Power draw, W."),
    Query("gpu_temp", "DCGM_FI_DEV_GPU_TEMP{sel}", "GPU temperature, °C."),
    Query("gpu_xid", "DCGM_FI_DEV_XID_ERRORS{sel}", "Last XID error code (0: none)."),
    Query(GPU_UTIL_SERIES,
          "avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{sel})",
          "Utilization per GPU over the window (plot).", range=True),
)

TRITON = (
    Query("triton_success_rate",
          f"sum by ({_TRITON_BY}) (rate(nv_inference_request_success{{sel}}[{{r}}]))",
          "Successful inference requests per second (throughput)."),
    Query("triton_failure_rate",
          f"sum by ({_TRITON_BY}) (rate(nv_inference_request_failure{{sel}}[{{r}}]))",
          "Failed inference requests per second."),
    Query("triton_avg_latency", _per_success("nv_inference_request_duration_us"),
          "Average request latency, ms: duration delta over success delta."),
    Query("triton_queue", _per_success("nv_inference_queue_duration_us"),
          "Average time a request waited in the queue, ms."),
    Query("triton_compute",
          "(" + " + ".join(
              f"sum by ({_TRITON_BY}) (increase(nv_inference_compute_{part}_duration_us"
              "{sel}[{r}]))" for part in ("input", "infer", "output"))
          + f") / sum by ({_TRITON_BY}) (increase(nv_inference_request_success{{sel}}[{{r}}]))"
          " / 1000",
          "Average compute time (input + infer + output) per request, ms."),
    Query("triton_avg_batch",
          f"sum by ({_TRITON_BY}) (increase(nv_inference_count{{sel}}[{{r}}])) / "
          f"sum by ({_TRITON_BY}) (increase(nv_inference_exec_count{{sel}}[{{r}}]))",
          "Average batch size: inferences per model execution."),
    Query("triton_pending", f"sum by ({_TRITON_BY}) (nv_inference_pending_request_count{{sel}})",
          "Requests waiting now."),
    Query("triton_quantiles",
          f"max by ({_TRITON_BY}, quantile) (nv_inference_request_summary_us{{sel}}) / 1000",
          "p50/p95/p99 request latency, ms, from Triton's summary "
          "(--metrics-config summary_latencies=true)."),
    Query("triton_histogram_p95",
          f"histogram_quantile(0.95, sum by ({_TRITON_BY}, le) "
          f"(rate(nv_inference_request_duration_us_bucket{{sel}}[{{r}}]))) / 1000",
          "p95 latency, ms, from a request-duration histogram where one is exported."),
    Query(THROUGHPUT_SERIES,
          "sum by (model) (rate(nv_inference_request_success{sel}[{r}]))",
          "Throughput per model over the window (plot).", range=True),
    Query(LATENCY_SERIES,
          "sum by (model) (rate(nv_inference_request_duration_us{sel}[{r}])) / "
          "sum by (model) (rate(nv_inference_request_success{sel}[{r}])) / 1000",
          "Average latency per model over the window, ms (plot).", range=True),
)

NODE = (
    Query("node_cpu",
          "100 * (1 - avg without (cpu, mode) "
          "(rate(node_cpu_seconds_total{mode=\"idle\"}[{r}])))",
          "CPU busy percent per node (node-exporter); keeps the target's node labels."),
    Query("node_mem",
          "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
          "Memory used percent per node (node-exporter)."),
)

# What only the Grafana dashboards ask (backends/monitoring/dashboards.py): cluster-wide
# counts the TUI computes from the GPU table itself. No screen runs these.
_ALLOCATED = 'DCGM_FI_DEV_FB_USED{sel} unless DCGM_FI_DEV_FB_USED{pod=""}'
DASHBOARD = (
    Query("gpu_count", "count(DCGM_FI_DEV_FB_USED{sel}) or vector(0)",
          "GPUs (whole GPUs and MIG instances) the DCGM exporter reports."),
    Query("gpu_allocated", f"count({_ALLOCATED}) or vector(0)",
          "GPUs allocated to a pod: the exporter's pod label is set (kubelet's "
          "pod-resources mapping; an unallocated GPU has no pod label)."),
    Query("gpu_busy",
          f"count((DCGM_FI_DEV_GPU_UTIL{{sel}} >= {IDLE_UTIL_PCT:g}) or "
          f"(DCGM_FI_PROF_GR_ENGINE_ACTIVE{{sel}} * 100 >= {IDLE_UTIL_PCT:g})) or vector(0)",
          f"GPUs busy: utilization (or, on MIG, the engine-active ratio) at least "
          f"{IDLE_UTIL_PCT:g} %, the TUI's idle threshold; counted once per GPU."),
    Query("triton_requests", "nv_inference_request_success{sel}",
          "Successful requests so far per model, version and pod (a counter: the "
          "dashboards' $model list comes from its labels)."),
)

BY_NAME: dict[str, Query] = {q.name: q for q in (*GPU, *TRITON, *NODE, *DASHBOARD)}

# The cluster-wide pulse asks only for the model columns it leads with.
_PULSE_MODEL_COLUMNS = ("triton_success_rate", "triton_failure_rate", "triton_avg_latency",
                        "triton_quantiles", "triton_pending")


def _batch(parts: ScreenParts, model_queries: tuple[Query, ...]) -> tuple[Query, ...]:
    """The queries behind a screen's parts (metrics_models.PARTS): its tables' instant
    queries, and one range query per plotted series (named as the series)."""
    tables = ((q for q in GPU if not q.range) if parts.gpus else (),
              NODE if parts.nodes else (), model_queries if parts.models else ())
    return tuple(q for group in tables for q in group) + tuple(
        BY_NAME[name] for name in parts.series)


# What one refresh of each screen runs: a single batch, issued concurrently.
SCREENS: dict[Screen, tuple[Query, ...]] = {
    Screen.GPU: _batch(PARTS[Screen.GPU], ()),
    Screen.MODELS: _batch(PARTS[Screen.MODELS], tuple(q for q in TRITON if not q.range)),
    Screen.PULSE: _batch(PARTS[Screen.PULSE],
                         tuple(BY_NAME[name] for name in _PULSE_MODEL_COLUMNS)),
}
