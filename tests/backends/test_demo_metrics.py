"""The demo metrics source: simulated DCGM and Triton numbers consistent with the demo world.

Frozen sources with an injected clock are deterministic, so these tests assert exact facts.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.demo.metrics import DemoMetricsSource, create_source
from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.metrics_models import MetricsSnapshot, Screen, Window
from mlops_tui.backends.models import MetricsSettings, ResourceRef
from mlops_tui.backends.protocols import MetricsQuery, MetricsSource
from mlops_tui.backends.registry import create_metrics
from mlops_tui.backends.render._common import pod_gpu_request

NOW = 1_732_262_400.0  # 2024-11-22T08:00:00Z
MODELS = {"resnet50", "bert", "gpt2", "llama", "densenet"}


def frozen_backend(**kw) -> DemoBackend:
    return DemoBackend(seed=kw.pop("seed", 7), now=lambda: NOW, frozen=True, **kw)


@pytest.fixture
async def backend():
    b = frozen_backend()
    await b.connect()
    yield b
    await b.close()


@pytest.fixture
async def source(backend):
    src = await create_metrics("demo", MetricsSettings(), backend)
    yield src
    await src.close()


@pytest.fixture(params=["world", "fixed"])
async def any_source(request, backend):
    """The same facts hold with the demo world and with the built-in layout."""
    if request.param == "world":
        src = await create_source(MetricsSettings(), backend)
    else:
        src = DemoMetricsSource(seed=7, now=lambda: NOW, frozen=True)
    yield src
    await src.close()


# -- the protocol and the entry point ---------------------------------------------------------
async def test_satisfies_protocol_and_describes_itself(source):
    assert isinstance(source, MetricsSource)
    assert isinstance(source, DemoMetricsSource)
    assert source.name == "demo"
    assert source.describe() == "demo metrics (simulated)"
    assert isinstance(DemoMetricsSource(), MetricsSource)


async def test_has_no_promql_so_offers_none(source):
    assert not isinstance(source, MetricsQuery)  # assert_metric refuses it, never guesses


def test_needs_nothing_from_the_prometheus_package():
    code = ("import sys, mlops_tui.backends.demo.metrics; "
            "print(sorted(m for m in sys.modules if 'prometheus' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


async def test_registry_loads_demo_source_bound_to_backend(backend, source):
    snap = await source.snapshot(Screen.GPU, Window.M5)
    assert snap.taken_at == NOW
    assert snap.gpus and snap.notes == ()


async def test_without_demo_backend_uses_fixed_layout():
    src = await create_source(MetricsSettings(), None)
    snap = await src.snapshot(Screen.PULSE, Window.M5)
    assert {g.node for g in snap.gpus} == {"gpu-a100-1", "gpu-a100-mig-1", "gpu-h100-1"}
    assert {m.model for m in snap.models} == MODELS
    await src.close()


# -- screens ----------------------------------------------------------------------------------
# the plots each screen shows, written out: the dashboard draws exactly these
PLOTTED = {Screen.GPU: {"gpu_util_range"},
           Screen.MODELS: {"triton_throughput_range", "triton_latency_range"},
           Screen.PULSE: {"triton_throughput_range"}}


@pytest.mark.parametrize("screen", list(Screen))
async def test_screens_return_their_parts(any_source, screen):
    snap = await any_source.snapshot(screen, Window.M15)
    assert isinstance(snap, MetricsSnapshot)
    assert snap.screen is screen and snap.window is Window.M15
    assert snap.queries is None  # the demo sends no query, and claims none
    assert snap.errors == ()
    assert set(snap.series) == PLOTTED[screen]
    if screen is Screen.GPU:
        assert snap.gpus and snap.nodes and not snap.models
        assert len(snap.series["gpu_util_range"]) == len(snap.gpus)
    elif screen is Screen.MODELS:
        assert snap.models and not snap.gpus and not snap.nodes
        assert {s.label for s in snap.series["triton_latency_range"]} == MODELS
        assert {s.label for s in snap.series["triton_throughput_range"]} == MODELS
    else:
        assert snap.gpus and snap.models and not snap.nodes
    assert snap.notes == ()


async def test_screen_and_window_accept_plain_strings(source):
    snap = await source.snapshot("models", "1h")  # type: ignore[arg-type]
    assert snap.screen is Screen.MODELS and snap.window is Window.H1


# -- filters ----------------------------------------------------------------------------------
async def test_node_filter_narrows_gpus_and_plots_not_nodes(any_source):
    whole = await any_source.snapshot(Screen.GPU, Window.M5)
    snap = await any_source.snapshot(Screen.GPU, Window.M5, node="gpu-h100-1")
    assert len(snap.gpus) == 8 and {g.node for g in snap.gpus} == {"gpu-h100-1"}
    assert [g.gpu for g in snap.gpus] == [str(i) for i in range(8)]
    assert all(s.label.startswith("gpu-h100-1/") for s in snap.series["gpu_util_range"])
    assert snap.nodes == whole.nodes  # node-exporter numbers are not narrowed, as in Prometheus


async def test_model_filter_narrows_models_and_plots(any_source):
    snap = await any_source.snapshot(Screen.MODELS, Window.M5, model="bert")
    assert len(snap.models) == 3 and {m.model for m in snap.models} == {"bert"}
    for name in ("triton_throughput_range", "triton_latency_range"):
        assert [s.label for s in snap.series[name]] == ["bert"]
    pulse = await any_source.snapshot(Screen.PULSE, Window.M5, model="bert",
                                      node="gpu-a100-1")
    assert {m.model for m in pulse.models} == {"bert"}
    assert {g.node for g in pulse.gpus} == {"gpu-a100-1"}


async def test_unknown_filters_give_empty_panels_with_notes(any_source):
    snap = await any_source.snapshot(Screen.PULSE, Window.M5, node="nope", model="nope")
    assert snap.gpus == () and snap.models == ()
    assert snap.notes == ("no DCGM exporter series (DCGM_FI_DEV_*) found",
                          "no Triton series (nv_inference_*) found")


# -- determinism ------------------------------------------------------------------------------
@pytest.mark.parametrize("screen", list(Screen))
async def test_frozen_snapshots_are_identical(screen):
    one = DemoMetricsSource(seed=3, now=lambda: NOW, frozen=True)
    two = DemoMetricsSource(seed=3, now=lambda: NOW, frozen=True)
    first = await one.snapshot(screen, Window.H1)
    assert await one.snapshot(screen, Window.H1) == first
    assert await two.snapshot(screen, Window.H1) == first
    b1, b2 = frozen_backend(seed=3), frozen_backend(seed=3)
    w1 = await create_source(MetricsSettings(), b1)
    w2 = await create_source(MetricsSettings(), b2)
    assert await w1.snapshot(screen, Window.H1) == await w2.snapshot(screen, Window.H1)


async def test_frozen_pins_the_clock_at_its_first_reading():
    clock = iter(range(int(NOW), int(NOW) + 1000, 10))
    src = DemoMetricsSource(now=lambda: float(next(clock)), frozen=True)
    first = await src.snapshot(Screen.PULSE, Window.M5)
    assert await src.snapshot(Screen.PULSE, Window.M5) == first
    assert first.taken_at == NOW


async def test_values_move_with_time_and_seed():
    t = [NOW]
    src = DemoMetricsSource(now=lambda: t[0])
    before = await src.snapshot(Screen.PULSE, Window.M5)
    t[0] += 600
    after = await src.snapshot(Screen.PULSE, Window.M5)
    assert after.taken_at == NOW + 600
    assert before.gpus != after.gpus and before.models != after.models
    other = await DemoMetricsSource(seed=1, now=lambda: NOW).snapshot(Screen.PULSE, Window.M5)
    assert other.gpus != before.gpus


async def test_plots_are_smooth():
    snap = await DemoMetricsSource(now=lambda: NOW).snapshot(Screen.GPU, Window.M5)
    for line in snap.series["gpu_util_range"]:
        values = [v for _, v in line.points]
        assert max(abs(a - b) for a, b in zip(values, values[1:], strict=False)) < 6, line.label


# -- GPUs -------------------------------------------------------------------------------------
async def test_idle_allocated_gpus(any_source):
    snap = await any_source.snapshot(Screen.GPU, Window.M5)
    idle = [g for g in snap.gpus if g.idle_allocated]
    assert 2 <= len(idle) <= 3
    assert all(g.allocated and g.util is not None and g.util < 5 for g in idle)
    assert {g.container for g in idle} == {"triton", "notebook"}
    assert any(g.pod.startswith("triton-gpt2-") for g in idle)
    assert any(g.pod.startswith("jupyter-notebook-") for g in idle)
    free = [g for g in snap.gpus if not g.allocated]
    assert free and all(g.util == 0.0 and g.fb_used_mib == 0.0 for g in free)
    busy = [g for g in snap.gpus if g.allocated and not g.idle_allocated]
    assert busy and all(g.util is not None and g.util > 5 for g in busy)


async def test_mig_slices_use_engine_activity(any_source):
    snap = await any_source.snapshot(Screen.GPU, Window.M5, node="gpu-a100-mig-1")
    assert [g.gpu for g in snap.gpus] == [f"0/mig-1g.10gb:{i}" for i in range(7)]
    assert all(g.util_source == "engine" for g in snap.gpus)
    assert len({g.uuid for g in snap.gpus}) == 1  # one physical card
    held = [g for g in snap.gpus if g.allocated]
    assert len(held) == 3 and all(g.pod.startswith("triton-densenet-") for g in held)
    assert all(g.fb_used_mib + g.fb_free_mib < 10240 for g in snap.gpus)
    whole = await any_source.snapshot(Screen.GPU, Window.M5, node="gpu-a100-1")
    assert all(g.util_source == "util" for g in whole.gpus)


async def test_gpu_numbers_are_plausible(any_source):
    snap = await any_source.snapshot(Screen.GPU, Window.M5)
    assert len(snap.gpus) == 8 + 7 + 8
    for g in snap.gpus:
        assert 0 <= g.util <= 100
        assert 60 <= g.power_w <= 700
        assert 20 <= g.temp_c <= 95
        if "mig" not in g.gpu:
            assert g.fb_used_mib + g.fb_free_mib == 81920
    assert {g.model for g in snap.gpus} == {"NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"}
    faulty = [g for g in snap.gpus if g.xid]
    assert len(faulty) == 1 and faulty[0].xid == 79 and faulty[0].temp_c >= 85
    assert max(g.temp_c for g in snap.gpus if not g.xid) < 85
    for n in snap.nodes:
        assert 0 < n.cpu_pct < 100 and 0 < n.mem_pct < 100


async def test_gpus_follow_the_world(backend, source):
    snap = await source.snapshot(Screen.GPU, Window.M5)
    world = backend.world
    for node in ("gpu-a100-1", "gpu-h100-1", "gpu-a100-mig-1"):
        want, namespaces = {}, {}
        for p in world.list("pods"):
            gpus, mig = pod_gpu_request(p["spec"])
            if p["spec"].get("nodeName") == node and gpus + sum(mig.values()):
                want[p["metadata"]["name"]] = gpus + sum(mig.values())
                namespaces[p["metadata"]["name"]] = p["metadata"]["namespace"]
        held: dict[str, int] = {}
        for g in snap.gpus:
            if g.node == node and g.pod:
                held[g.pod] = held.get(g.pod, 0) + 1
                assert g.namespace == namespaces[g.pod]
        assert held == want
    # the unschedulable fine-tune holds nothing; the notebook does
    assert not any(g.pod.startswith("llm-finetune") for g in snap.gpus)
    assert {g.container for g in snap.gpus if g.pod.startswith("train-llama")} == {"trainer"}


async def test_gpu_indices_stay_put_when_a_pod_is_replaced(backend, source):
    before = {(g.node, g.gpu): g.pod for g in (await source.snapshot(Screen.GPU, Window.M5)).gpus}
    victim = next(pod for pod in before.values() if pod.startswith("triton-resnet50-"))
    kind = backend.resolve_kind("po")
    await backend.delete(ResourceRef(kind, victim, "triton"))
    after = {(g.node, g.gpu): g.pod for g in (await source.snapshot(Screen.GPU, Window.M5)).gpus}
    changed = {k for k in before if before[k] != after[k]}
    assert len(changed) == 1
    (slot,) = changed
    assert before[slot] == victim and after[slot].startswith("triton-resnet50-")
    # the replacement inherits the GPU's history: its plot does not drop to 0 before it
    snap = await source.snapshot(Screen.GPU, Window.H1)
    line = next(s for s in snap.series["gpu_util_range"] if s.label == "/".join(slot))
    assert min(v for _, v in line.points) > 5


async def test_context_switch_follows_the_world(backend, source):
    await backend.use_context("demo-edge")
    snap = await source.snapshot(Screen.PULSE, Window.M5)
    assert snap.gpus == () and snap.models == ()
    assert len(snap.notes) == 2
    await backend.use_context("demo-gpu-cluster")
    assert (await source.snapshot(Screen.PULSE, Window.M5)).gpus


# -- Triton -----------------------------------------------------------------------------------
async def test_models_follow_triton_deployments(backend, source):
    snap = await source.snapshot(Screen.MODELS, Window.M5)
    running = [p for p in backend.world.list("pods", "triton")
               if p["status"].get("phase") == "Running"]
    assert sorted(m.pod for m in snap.models) == sorted(p["metadata"]["name"] for p in running)
    assert {m.model for m in snap.models} == MODELS
    assert all(m.version == "1" and m.namespace == "triton" for m in snap.models)


async def test_triton_numbers_are_plausible(any_source):
    snap = await any_source.snapshot(Screen.MODELS, Window.M5)

    def of(name):
        return [m for m in snap.models if m.model == name]

    resnet, bert, gpt2 = of("resnet50"), of("bert"), of("gpt2")
    assert 900 <= sum(m.throughput_rps for m in resnet) <= 1500
    assert all(4 <= m.avg_latency_ms <= 8 for m in resnet)
    assert 200 <= sum(m.throughput_rps for m in bert) <= 400
    for m in bert:
        assert 20 <= m.avg_latency_ms <= 40
        assert m.latency_kind == "quantiles"
        assert m.p50_ms < m.p95_ms < m.p99_ms
    assert gpt2 and all(m.latency_kind == "avg only" and m.p50_ms is None
                        and m.p99_ms is None and m.failures_rps > 0 for m in gpt2)
    assert [m.model for m in snap.models if m.latency_kind == "avg only"] == ["gpt2"]
    for m in snap.models:
        assert m.queue_ms < m.avg_latency_ms and m.compute_ms < m.avg_latency_ms
        assert m.avg_batch >= 1 and m.pending >= 0
    # the plotted throughput of a model is the sum over its servers
    last = {s.label: s.points[-1][1] for s in snap.series["triton_throughput_range"]}
    assert last["resnet50"] == pytest.approx(sum(m.throughput_rps for m in resnet), abs=0.05)


# -- series -----------------------------------------------------------------------------------
@pytest.mark.parametrize("window", list(Window))
async def test_series_span_the_window_one_point_per_step(window):
    src = DemoMetricsSource(now=lambda: NOW, frozen=True)
    for screen in Screen:
        snap = await src.snapshot(screen, window)
        for lines in snap.series.values():
            assert lines
            for line in lines:
                stamps = [t for t, _ in line.points]
                assert len(stamps) == window.seconds // window.step + 1
                assert stamps[-1] == NOW
                assert NOW - window.seconds <= stamps[0] < NOW - window.seconds + window.step
                assert {b - a for a, b in zip(stamps, stamps[1:], strict=False)} == {
                    window.step}


async def test_series_end_at_the_current_values(source):
    snap = await source.snapshot(Screen.GPU, Window.M15)
    lines = {s.label: s for s in snap.series["gpu_util_range"]}
    for g in snap.gpus:
        assert lines[f"{g.node}/{g.gpu}"].points[-1] == (NOW, g.util)


async def test_series_start_when_the_workload_did(source):
    # triton-bert was rolled out 45 minutes ago: an hour's plot shows it for 45 minutes
    snap = await source.snapshot(Screen.MODELS, Window.H1)
    lines = {s.label: s for s in snap.series["triton_throughput_range"]}
    assert len(lines["resnet50"].points) == Window.H1.seconds // Window.H1.step + 1
    assert lines["bert"].points[0][0] >= NOW - 45 * 60
    assert len(lines["bert"].points) < len(lines["resnet50"].points)
    gpus = await source.snapshot(Screen.GPU, Window.H1)
    for line in gpus.series["gpu_util_range"]:
        held = next(g for g in gpus.gpus if f"{g.node}/{g.gpu}" == line.label)
        if held.pod.startswith("triton-bert-"):
            assert line.points[0][1] == 0.0 and line.points[-1][1] > 5


# -- outage -----------------------------------------------------------------------------------
async def test_fail_switch_raises_connection_failed(source):
    source.fail(True)
    with pytest.raises(ConnectionFailed, match="cannot reach Prometheus at demo: connection "
                                               "refused"):
        await source.snapshot(Screen.GPU, Window.M5)
    source.fail(False)
    assert (await source.snapshot(Screen.GPU, Window.M5)).gpus
