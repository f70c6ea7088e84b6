"""The pure panel builders (backends/prometheus/panels.py) over answers recorded from the
real test Prometheus (tests/fixtures/prometheus, written by its record.py).

The expected values are read off the recorded JSON and the fixture DCGM exporter's
settings by hand, never computed by the code under test: the DCGM numbers are the
exporter's (tests/servers/dcgm.py DEFAULT_GPUS, XID 79 set on the free GPU while
recording); the Triton and node numbers are what Prometheus answered at the time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_tui.backends.metrics_models import (
    GpuStat,
    ModelStat,
    NodeStat,
    Screen,
    Series,
    Window,
)
from mlops_tui.backends.prometheus import panels
from mlops_tui.backends.prometheus.queries import SCREENS

RECORDED = Path(__file__).parents[1] / "fixtures" / "prometheus"
END = 1796188755.0  # recorded.json: the instant every answer is for
BUSY, IDLE = "GPU-6f1c2a55-0b1e-4d2c-9f11-5a2b7c3d4e01", "GPU-6f1c2a55-0b1e-4d2c-9f11-5a2b7c3d4e02"
MIG = "GPU-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03"
A100 = "NVIDIA A100-SXM4-80GB"


def answers(*names: str) -> dict[str, list]:
    """``{query name: data.result}`` as the source hands them to the builders."""
    names = names or tuple(p.stem for p in RECORDED.glob("*.json") if p.stem != "recorded")
    out = {}
    for name in names:
        body = json.loads((RECORDED / f"{name}.json").read_text())
        assert body["status"] == "success"
        out[name] = body["data"]["result"]
    return out


@pytest.mark.parametrize(("screen", "plots"), [
    (Screen.GPU, ["gpu_util_range"]),
    (Screen.MODELS, ["triton_throughput_range", "triton_latency_range"]),
    (Screen.PULSE, ["triton_throughput_range"]),
])
def test_each_screen_runs_one_range_query_per_plot(screen, plots):
    assert [q.name for q in SCREENS[screen] if q.range] == plots


def test_the_recording_is_for_one_instant():
    meta = json.loads((RECORDED / "recorded.json").read_text())
    assert meta == {"end": END, "window": "5m", "rate_window": "15s"}


def test_gpus_joined_by_node_gpu_and_mig_instance():
    assert panels.build_gpus(answers()) == (
        GpuStat(node="gpu-node-1", gpu="0", uuid=BUSY, model=A100, util=87.0,
                util_source="util", fb_used_mib=30210.0, fb_free_mib=51710.0, power_w=312.5,
                temp_c=64.0, xid=0.0, namespace="serving", pod="triton-0",
                container="triton"),
        # GPU_UTIL 0 and engine 0: an idle whole GPU, not a MIG fallback
        GpuStat(node="gpu-node-1", gpu="1", uuid=IDLE, model=A100, util=0.0,
                util_source="util", fb_used_mib=0.0, fb_free_mib=81920.0, power_w=61.2,
                temp_c=33.0, xid=79.0),
        # MIG: no GPU_UTIL series at all; engine-active 0.42 as percent
        GpuStat(node="gpu-node-2", gpu="0/1g.10gb:1", uuid=MIG, model=A100, util=42.0,
                util_source="engine", fb_used_mib=6120.0, fb_free_mib=3620.0, power_w=180.0,
                temp_c=51.0, xid=0.0, namespace="team-a", pod="llm-embedder-7d9f-abcde",
                container="embedder"),
        GpuStat(node="gpu-node-2", gpu="0/3g.40gb:2", uuid=MIG, model=A100, util=0.0,
                util_source="engine", fb_used_mib=13.0, fb_free_mib=40179.0, power_w=180.0,
                temp_c=51.0, xid=0.0),
    )


def test_busy_gpu_memory_share():
    busy = panels.build_gpus(answers())[0]
    assert busy.fb_used_pct == pytest.approx(36.8774, abs=1e-4)  # 30210 / 81920


def test_models_joined_with_their_quantiles():
    assert panels.build_models(answers()) == (
        ModelStat(model="bert", version="1", pod="triton-0", namespace="serving",
                  throughput_rps=28.928571428571427, failures_rps=5.785714285714286,
                  avg_latency_ms=21.674167901234572, queue_ms=0.6945975308641975,
                  compute_ms=20.973320987654322, avg_batch=0.8333333333333334, pending=0.0,
                  p50_ms=21.485, p95_ms=22.473, p99_ms=24.865),
        ModelStat(model="resnet50", version="1", pod="triton-0", namespace="serving",
                  throughput_rps=115.78571428571428, failures_rps=0.0,
                  avg_latency_ms=0.9471239975323875, queue_ms=0.6462350400987046,
                  compute_ms=0.29759161011721164, avg_batch=2.0, pending=1.0,
                  p50_ms=0.872, p95_ms=1.287, p99_ms=2.279),
    )


def test_without_a_summary_latency_is_avg_only():
    recorded = answers()
    recorded["triton_quantiles"] = []  # a server run without summary_latencies
    bert = panels.build_models(recorded)[0]
    assert bert.latency_kind == "avg only"
    assert (bert.p50_ms, bert.p95_ms, bert.p99_ms) == (None, None, None)
    assert bert.avg_latency_ms == 21.674167901234572


def test_nodes_named_by_the_target_label():
    assert panels.build_nodes(answers("node_cpu", "node_mem")) == (
        NodeStat("gpu-node-1", 46.857142857142875, 2.31728249335752),)


def test_series_from_range_answers():
    series = panels.build_series(answers(), ["gpu_util_range", "triton_throughput_range"])
    stamps = (END - 15, END - 10, END - 5, END)  # 20 s of history at the 5 s step
    assert series["gpu_util_range"] == (
        Series("gpu_util_range", "gpu-node-1/0", tuple((t, 87.0) for t in stamps)),
        Series("gpu_util_range", "gpu-node-1/1", tuple((t, 0.0) for t in stamps)),
    )
    bert, resnet = series["triton_throughput_range"]
    assert (bert.label, resnet.label) == ("bert", "resnet50")
    assert bert.points[0] == (END - 15, 2.4786666666666664)
    assert bert.points[-1] == (END, 28.928571428571427)  # the table's rate at the end
    assert resnet.points[-1] == (END, 115.78571428571428)


@pytest.mark.parametrize("screen", list(Screen))
def test_build_a_whole_screen(screen):
    snap = panels.build(screen, Window.M5, END, answers(), query_count=7)
    assert snap.notes == () and snap.errors == () and snap.queries == 7
    assert (len(snap.gpus), len(snap.models), len(snap.nodes)) == {
        Screen.GPU: (4, 0, 1), Screen.MODELS: (0, 2, 0), Screen.PULSE: (4, 2, 0)}[screen]


def test_empty_answers_are_no_data():
    empty = {name: [] for name in answers()}
    snap = panels.build(Screen.PULSE, Window.M5, END, empty, query_count=13)
    assert snap.gpus == () and snap.models == ()
    assert snap.notes == ("no DCGM exporter series (DCGM_FI_DEV_*) found",
                          "no Triton series (nv_inference_*) found")


def test_failed_queries_are_errors_not_no_data():
    recorded = answers()
    for name in [n for n in recorded if n.startswith("gpu_")]:
        del recorded[name]  # every GPU query failed: the table is empty, but not "no data"
    errors = {"gpu_util": "Prometheus rejected the query: parse error"}
    snap = panels.build(Screen.PULSE, Window.M5, END, recorded, 13, errors)
    assert snap.gpus == () and len(snap.models) == 2
    assert snap.notes == ()
    assert snap.errors == ("gpu_util: Prometheus rejected the query: parse error",)


def test_malformed_samples_are_skipped_not_fatal():
    recorded = answers("gpu_util")
    recorded["gpu_util"] = [*recorded["gpu_util"], {"metric": {"Hostname": "x", "gpu": "9"},
                                                    "value": [END, "NaN"]},
                            {"metric": {"Hostname": "y", "gpu": "3"}, "value": "junk"}]
    gpus = {(g.node, g.gpu): g.util for g in panels.build_gpus(recorded)}
    assert gpus == {("gpu-node-1", "0"): 87.0, ("gpu-node-1", "1"): 0.0, ("x", "9"): None,
                    ("y", "3"): None}
