"""Smoke tests of the metrics servers: real Triton, real Prometheus, fixture DCGM exporter.

Only the DCGM exporter is synthetic (no GPU here); Triton serves real inference requests
and Prometheus really scrapes both.
"""

from __future__ import annotations

import time
import urllib.error

import pytest

from tests.servers.dcgm import (
    TRITON_NAMESPACE,
    TRITON_POD,
    UUID_BUSY,
    UUID_IDLE,
    UUID_MIG,
    DcgmExporter,
)
from tests.servers.fixtures import DCGM_JOB, TRITON_JOB, require_servers
from tests.servers.prometheus import PrometheusError, PrometheusServer, sample_values
from tests.servers.triton import TritonServer


def _triton_counter(triton: TritonServer, name: str, **labels: str) -> float:
    """A counter's current value, read straight from Triton's metrics endpoint."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for line in triton.metrics_text().splitlines():
        if line.startswith(name + "{") and all(w in line for w in want):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not exported by Triton")


def _one(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


# --------------------------------------------------------------------------- Triton


def test_triton_models_ready_and_real_inference(triton_server: TritonServer) -> None:
    index = {m["name"]: m["state"] for m in triton_server.repository_index()}
    assert index == {"resnet50": "READY", "bert": "READY"}
    assert triton_server.model_ready("resnet50") and triton_server.model_ready("bert")
    assert triton_server.infer("resnet50", count=3, batch=4) == 3  # outputs checked inside

    t0 = time.monotonic()
    triton_server.infer("bert", count=5)
    assert time.monotonic() - t0 >= 5 * 0.020  # bert sleeps 20 ms per request


# --------------------------------------------------------------------------- Prometheus + Triton


def test_prometheus_counts_real_requests_and_rate(
    triton_server: TritonServer, prometheus_server: PrometheusServer
) -> None:
    query = 'nv_inference_request_success{model="resnet50"}'
    before = _triton_counter(triton_server, "nv_inference_request_success", model="resnet50")
    n = 25
    triton_server.infer("resnet50", count=n, batch=2)

    result = prometheus_server.wait_for(
        query, lambda r: bool(r) and _one(r) == before + n, timeout=15
    )
    labels = result[0]["metric"]
    assert labels["job"] == TRITON_JOB
    assert (labels["namespace"], labels["pod"], labels["version"]) == (
        TRITON_NAMESPACE,
        TRITON_POD,
        "1",
    )
    # rows, not requests: batch=2
    assert _one(prometheus_server.query('nv_inference_count{model="resnet50"}')) >= 2 * n

    # rate() needs two scrapes inside its window after the load
    prometheus_server.wait_for(f"rate({query}[10s])", lambda r: bool(r) and _one(r) > 0, timeout=15)


def test_prometheus_sees_latency_quantiles_and_failures(
    triton_server: TritonServer, prometheus_server: PrometheusServer
) -> None:
    triton_server.infer("bert", count=10)
    result = prometheus_server.wait_for(
        'nv_inference_request_summary_us{model="bert"}', lambda r: len(r) == 5, timeout=15
    )
    quantiles = {r["metric"]["quantile"]: float(r["value"][1]) for r in result}
    assert set(quantiles) == {"0.5", "0.9", "0.95", "0.99", "0.999"}
    assert quantiles["0.5"] >= 20_000  # the model sleeps 20 ms: microseconds

    failures = 'nv_inference_request_failure{model="resnet50",reason="BACKEND"}'
    before = _triton_counter(
        triton_server, "nv_inference_request_failure", model="resnet50", reason="BACKEND"
    )
    triton_server.infer_rejected("resnet50", count=3)
    prometheus_server.wait_for(failures, lambda r: bool(r) and _one(r) == before + 3, timeout=15)


# --------------------------------------------------------------------------- DCGM (synthetic)


def test_dcgm_series_in_prometheus(
    dcgm_exporter: DcgmExporter, prometheus_server: PrometheusServer
) -> None:
    util = prometheus_server.wait_for(
        f'DCGM_FI_DEV_GPU_UTIL{{job="{DCGM_JOB}"}}', lambda r: len(r) == 2, timeout=15
    )
    by_uuid = {r["metric"]["UUID"]: r for r in util}
    assert set(by_uuid) == {UUID_BUSY, UUID_IDLE}  # no GPU_UTIL for the MIG instances
    busy = by_uuid[UUID_BUSY]["metric"]
    assert float(by_uuid[UUID_BUSY]["value"][1]) == 87
    # honor_labels: the workload's pod labels, not the exporter target's
    assert (busy["namespace"], busy["pod"], busy["container"]) == (
        TRITON_NAMESPACE,
        TRITON_POD,
        "triton",
    )
    assert busy["Hostname"] == "gpu-node-1" and busy["modelName"].startswith("NVIDIA A100")
    assert "pod" not in by_uuid[UUID_IDLE]["metric"]

    mig = prometheus_server.query(f'DCGM_FI_PROF_GR_ENGINE_ACTIVE{{UUID="{UUID_MIG}"}}')
    by_instance = {r["metric"]["GPU_I_ID"]: r for r in mig}
    assert set(by_instance) == {"1", "2"}
    assert by_instance["1"]["metric"]["GPU_I_PROFILE"] == "1g.10gb"
    assert float(by_instance["1"]["value"][1]) == pytest.approx(0.42)
    assert _one(prometheus_server.query(f'DCGM_FI_DEV_FB_FREE{{UUID="{UUID_IDLE}"}}')) == 81920

    try:
        dcgm_exporter.set(UUID_BUSY, "DCGM_FI_DEV_GPU_UTIL", 55)
        dcgm_exporter.set(UUID_MIG, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", 0.9, mig_instance=2)
        prometheus_server.wait_for(
            f'DCGM_FI_DEV_GPU_UTIL{{UUID="{UUID_BUSY}"}}', lambda r: _one(r) == 55, timeout=10
        )
        prometheus_server.wait_for(
            'DCGM_FI_PROF_GR_ENGINE_ACTIVE{GPU_I_ID="2"}', lambda r: _one(r) == 0.9, timeout=10
        )
        dcgm_exporter.healthy = False  # the exporter fails: its target goes down
        prometheus_server.wait_for(f'up{{job="{DCGM_JOB}"}}', lambda r: _one(r) == 0, timeout=10)
    finally:
        dcgm_exporter.reset()
    prometheus_server.wait_for(f'up{{job="{DCGM_JOB}"}}', lambda r: _one(r) == 1, timeout=10)


# --------------------------------------------------------------------------- outage


def test_prometheus_restart_keeps_data(prometheus_server: PrometheusServer) -> None:
    """A crash (SIGKILL) and then a clean stop (SIGTERM), each followed by an outage and a
    start on the same port and TSDB: the samples from before survive both."""
    query = f'up{{job="{TRITON_JOB}"}}'
    prometheus_server.wait_for(f"count_over_time({query}[2s])", lambda r: _one(r) >= 1)
    url, first_stop = prometheus_server.url, time.time()
    for kill in (True, False):
        pid, t_stop = prometheus_server.pid, time.time()
        try:
            prometheus_server.stop(kill=kill)
            with pytest.raises(urllib.error.URLError):
                prometheus_server.query(query)
            time.sleep(2.5)  # the outage: no scrapes
        finally:
            prometheus_server.start()
        assert prometheus_server.url == url and prometheus_server.pid not in (None, pid)
        # samples scraped before the first stop are back (the head replayed from its WAL)
        result = prometheus_server.query_range(query, first_stop - 5, first_stop, 1)
        assert result and len(result[0]["values"]) >= 3, (kill, result)
        # the outage is a gap: no sample in it (a range query's lookback would hide it)
        assert prometheus_server.query(f"count_over_time({query}[2s])", at=t_stop + 2.4) == []

    # and scraping goes on (Prometheus 2.42 scrapes ~5 s after a start: discovery throttle)
    prometheus_server.wait_for(
        f"count_over_time({query}[2s])", lambda r: bool(r) and _one(r) >= 1, timeout=15
    )


# --------------------------------------------------------------------------- backfill

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z: old history is served as is


def _openmetrics() -> str:
    lines = ["# HELP mlops_test_gpu_util A gauge.", "# TYPE mlops_test_gpu_util gauge"]
    lines += [f'mlops_test_gpu_util{{gpu="0"}} {i % 7} {T0 + 15 * i}' for i in range(41)]
    lines += ["# TYPE mlops_test_requests counter"]
    lines += [f'mlops_test_requests_total{{model="a"}} {30 * i} {T0 + 15 * i}' for i in range(41)]
    return "\n".join(lines) + "\n# EOF\n"


def test_backfilled_tsdb_answers_exact_range_queries() -> None:
    require_servers("prometheus")
    with PrometheusServer.from_backfill(_openmetrics()) as prom:
        result = prom.query_range("mlops_test_gpu_util", T0, T0 + 600, 15)
        assert len(result) == 1 and result[0]["metric"]["gpu"] == "0"
        assert result[0]["values"] == [[T0 + 15 * i, str(i % 7)] for i in range(41)]

        # 30 per 15 s = 2 per second, exactly
        rate = prom.query_range(
            'rate(mlops_test_requests_total{model="a"}[1m])', T0 + 60, T0 + 600, 60
        )
        assert [float(v) for _, v in rate[0]["values"]] == [2.0] * 10

        # between samples: the last one within the 5 min lookback; after it: nothing
        assert sample_values(prom.query("mlops_test_gpu_util", at=T0 + 20)) == [1.0]
        assert prom.query("mlops_test_gpu_util", at=T0 + 600 + 301) == []


def test_backfill_refuses_openmetrics_without_eof(tmp_path) -> None:
    require_servers("prometheus")
    from tests.servers.prometheus import backfill

    with pytest.raises(PrometheusError, match="EOF"):
        backfill(_openmetrics().replace("# EOF\n", ""), tmp_path / "tsdb")
