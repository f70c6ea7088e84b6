"""The Prometheus metrics source against a real Prometheus scraping a real Triton server
(driven with real inference requests) and the fixture DCGM exporter (the one synthetic
part: there is no GPU here). Range queries run over history backfilled with promtool."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest

from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.metrics_models import Screen, Window
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource
from mlops_tui.backends.prometheus.queries import BY_NAME
from tests.servers.dcgm import TRITON_NAMESPACE, TRITON_POD, UUID_BUSY, UUID_IDLE
from tests.servers.prometheus import PrometheusServer

SETTINGS = MetricsSettings(rate_window="15s", timeout=5)


def snapshot(source: PrometheusSource, screen: Screen, **kwargs):
    return asyncio.run(source.snapshot(screen, kwargs.pop("window", Window.M5), **kwargs))


def served(server: PrometheusServer) -> dict[str, float]:
    """How many instant and range queries the real Prometheus has answered, from its own
    ``prometheus_http_requests_total``: a count independent of the source's."""
    text = urllib.request.urlopen(f"{server.url}/metrics", timeout=5).read().decode()
    counts = {"query": 0.0, "query_range": 0.0}
    for line in text.splitlines():
        found = re.match(r'prometheus_http_requests_total\{.*handler="/api/v1/(query|query_range)"'
                         r'.*\} (\S+)$', line)
        if found:
            counts[found.group(1)] += float(found.group(2))
    return counts


def sent_during(server: PrometheusServer, action) -> tuple[object, dict[str, float]]:
    before = served(server)
    result = action()
    after = served(server)
    return result, {k: after[k] - before[k] for k in after}


@pytest.fixture
def source(prometheus_server):
    src = PrometheusSource(prometheus_server.url, SETTINGS)
    yield src
    asyncio.run(src.close())


def test_every_library_query_is_valid_promql(prometheus_server):
    for query in BY_NAME.values():
        # a bad query is a 400 from the real server; an absent series is just empty
        prometheus_server.query(query.render("", "15s"))


def test_gpu_panel_reads_dcgm_series(source, dcgm_exporter, prometheus_server):
    snap, sent = sent_during(prometheus_server, lambda: snapshot(source, Screen.GPU))
    # 7 GPU and 2 node instant queries, 1 plot: what the server says it answered
    assert sent == {"query": 9, "query_range": 1} and snap.queries == 10
    assert not snap.notes and not snap.errors
    gpus = {(g.node, g.gpu): g for g in snap.gpus}
    busy = gpus[("gpu-node-1", "0")]
    assert busy.util == 87 and busy.util_source == "util" and busy.uuid == UUID_BUSY
    assert (busy.namespace, busy.pod) == (TRITON_NAMESPACE, TRITON_POD)
    assert busy.power_w == 312.5 and busy.temp_c == 64
    assert busy.fb_used_pct == pytest.approx(100 * 30210 / (30210 + 51710))
    idle = gpus[("gpu-node-1", "1")]
    assert idle.util == 0 and not idle.allocated and not idle.idle_allocated
    mig = [g for g in snap.gpus if g.node == "gpu-node-2"]
    # MIG instances have no GPU_UTIL: the engine-active ratio is used, as percent
    assert {g.gpu for g in mig} == {"0/1g.10gb:1", "0/3g.40gb:2"}
    assert all(g.util_source == "engine" for g in mig)
    slice_1g = next(g for g in mig if g.gpu == "0/1g.10gb:1")
    assert slice_1g.util == pytest.approx(42) and slice_1g.pod == "llm-embedder-7d9f-abcde"
    series = snap.series["gpu_util_range"]
    assert any(s.label == "gpu-node-1/0" and s.points for s in series)


def test_idle_allocated_gpu_and_xid_follow_the_exporter(source, dcgm_exporter,
                                                        prometheus_server):
    dcgm_exporter.set(UUID_BUSY, "DCGM_FI_DEV_GPU_UTIL", 2)
    dcgm_exporter.set(UUID_IDLE, "DCGM_FI_DEV_XID_ERRORS", 79)
    try:
        prometheus_server.wait_for(f'DCGM_FI_DEV_GPU_UTIL{{UUID="{UUID_BUSY}"}} == 2',
                                   timeout=15)
        prometheus_server.wait_for(f'DCGM_FI_DEV_XID_ERRORS{{UUID="{UUID_IDLE}"}} == 79',
                                   timeout=15)
        gpus = {(g.node, g.gpu): g for g in snapshot(source, Screen.GPU).gpus}
        assert gpus[("gpu-node-1", "0")].idle_allocated
        assert gpus[("gpu-node-1", "1")].xid == 79
    finally:
        dcgm_exporter.set(UUID_BUSY, "DCGM_FI_DEV_GPU_UTIL", 87)
        dcgm_exporter.set(UUID_IDLE, "DCGM_FI_DEV_XID_ERRORS", 0)


def test_node_basics_from_a_real_node_exporter(source, prometheus_server):
    prometheus_server.wait_for('node_memory_MemTotal_bytes{node="gpu-node-1"}', timeout=20)
    prometheus_server.wait_for('rate(node_cpu_seconds_total{mode="idle"}[15s])', timeout=20)
    (node,) = snapshot(source, Screen.GPU).nodes
    assert node.node == "gpu-node-1"  # the target's node label, not host:port
    assert 0 <= node.cpu_pct <= 100 and 0 < node.mem_pct < 100


def test_node_filter(source):
    snap = snapshot(source, Screen.GPU, node="gpu-node-2")
    assert snap.gpus and {g.node for g in snap.gpus} == {"gpu-node-2"}


def test_models_panel_from_real_inference(source, triton_server, prometheus_server):
    triton_server.infer("resnet50", count=40, batch=2)
    triton_server.infer("bert", count=10)
    prometheus_server.wait_for(
        'sum(rate(nv_inference_request_success{model="bert"}[15s])) > 0', timeout=20)
    prometheus_server.wait_for(
        'sum(rate(nv_inference_request_success{model="resnet50"}[15s])) > 0', timeout=20)
    snap = snapshot(source, Screen.MODELS)
    models = {m.model: m for m in snap.models}
    resnet, bert = models["resnet50"], models["bert"]
    assert (resnet.pod, resnet.namespace, resnet.version) == (TRITON_POD, TRITON_NAMESPACE, "1")
    assert resnet.throughput_rps > 0 and resnet.failures_rps == 0
    assert resnet.avg_batch is not None and resnet.avg_batch >= 1
    assert bert.avg_latency_ms is not None and bert.avg_latency_ms >= 20  # it sleeps 20 ms
    assert bert.compute_ms is not None and bert.compute_ms >= 19
    assert bert.queue_ms is not None and bert.queue_ms >= 0
    assert bert.latency_kind == "quantiles" and bert.p50_ms >= 20 and bert.p99_ms >= bert.p50_ms
    assert bert.pending == 0
    lines = {s.label for s in snap.series["triton_throughput_range"]}
    assert {"resnet50", "bert"} <= lines
    only = snapshot(source, Screen.MODELS, model="bert").models
    assert {m.model for m in only} == {"bert"}
    by_pod = snapshot(source, Screen.MODELS, pods="triton-").models
    assert {m.model for m in by_pod} >= {"bert", "resnet50"}
    assert not snapshot(source, Screen.MODELS, pods="other-").models


def test_pulse_is_one_batch_and_reuses_an_unchanged_window(prometheus_server, triton_server):
    triton_server.infer("bert", count=5)
    prometheus_server.wait_for(
        'sum(rate(nv_inference_request_success{model="bert"}[15s])) > 0', timeout=20)
    now = time.time()
    source = PrometheusSource(prometheus_server.url, SETTINGS, clock=lambda: now)
    try:
        snap, sent = sent_during(prometheus_server, lambda: snapshot(source, Screen.PULSE))
        # 7 GPU and 5 model instant queries, the throughput plot
        assert sent == {"query": 12, "query_range": 1}
        assert snap.queries == source.queries_sent == 13
        bert = next(s for s in snap.series["triton_throughput_range"] if s.label == "bert")
        assert bert.points and bert.points[-1][1] > 0
        # the same window end: range answers are reused, instant ones asked again
        again, sent = sent_during(prometheus_server, lambda: snapshot(source, Screen.PULSE))
        assert sent == {"query": 12, "query_range": 0} and again.queries == 12
        assert again.series == snap.series
    finally:
        asyncio.run(source.close())


BACKFILL = "\n".join([
    "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
    *[f'DCGM_FI_DEV_GPU_UTIL{{Hostname="n1",gpu="0",UUID="GPU-x"}} {10 * (i % 5)} '
      f'{1_700_000_040 + 60 * i}' for i in range(31)],
    "# TYPE nv_inference_request_success counter",
    *[f'nv_inference_request_success{{model="m",version="1",pod="p"}} {120 * i} '
      f'{1_700_000_040 + 60 * i}' for i in range(31)],
    "# EOF",
]) + "\n"


def test_range_queries_over_backfilled_history(tmp_path):
    server = PrometheusServer.from_backfill(BACKFILL, workdir=tmp_path)
    with server:
        end = 1_700_000_040 + 60 * 30
        src = PrometheusSource(server.url, MetricsSettings(rate_window="2m"), clock=lambda: end)
        try:
            snap = asyncio.run(src.snapshot(Screen.GPU, Window.M15))
            (util,) = snap.series["gpu_util_range"]
            assert util.label == "n1/0" and util.points[-1] == (end, 0.0)
            values = {t: v for t, v in util.points}
            assert values[end - 60] == 40.0 and values[end - 120] == 30.0
            assert values[end - 15] == 40.0  # between samples: the last one (lookback)
            assert len(util.points) == 900 // Window.M15.step + 1
            snap = asyncio.run(src.snapshot(Screen.MODELS, Window.M15))
            (throughput,) = snap.series["triton_throughput_range"]
            assert throughput.label == "m"
            assert all(v == pytest.approx(2.0) for _, v in throughput.points)  # 120/min
        finally:
            asyncio.run(src.close())


def test_outage_is_a_clear_error_and_recovers(source, prometheus_server):
    assert snapshot(source, Screen.GPU).gpus
    prometheus_server.stop(kill=True)
    try:
        with pytest.raises(ConnectionFailed, match="cannot reach Prometheus at .*refused"):
            snapshot(source, Screen.GPU)
    finally:
        prometheus_server.start()
    assert snapshot(source, Screen.GPU).gpus  # the old TSDB answers at once
