"""pytest fixtures for the metrics servers: real Triton, real Prometheus, fixture DCGM.

Registered with ``pytest_plugins`` in tests/conftest.py. All session-scoped, started
once per test session:

- ``triton_server``: :class:`~tests.servers.triton.TritonServer` with ``resnet50`` (fast)
  and ``bert`` (20 ms per request), both ready; HTTP/gRPC/metrics on loopback ports.
- ``dcgm_exporter``: :class:`~tests.servers.dcgm.DcgmExporter` serving
  :data:`~tests.servers.dcgm.DEFAULT_GPUS` (synthetic: there is no GPU here). Tests that
  change values or ``healthy`` call ``reset()`` when done.
- ``prometheus_server``: :class:`~tests.servers.prometheus.PrometheusServer` scraping
  both every 1 s (jobs ``triton`` and ``dcgm-exporter``), started after them and
  returned once both targets are up. The ``triton`` target carries the labels
  ``namespace="serving"``, ``pod="triton-0"`` (what Kubernetes service discovery would
  add); ``dcgm-exporter`` is scraped with ``honor_labels``. A test that stops it starts
  it again before it ends (same port, same TSDB).

When ``prometheus``/``promtool`` or the triton venv is missing, the fixtures skip with
the reason (also printed in the terminal summary), unless ``MLOPS_TUI_REQUIRE_SERVERS``
is set: then they fail. ``bash tests/servers/setup-triton.sh`` installs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers.dcgm import DEFAULT_GPUS, TRITON_NAMESPACE, TRITON_POD, DcgmExporter
from tests.servers.node_exporter import NodeExporter, find_node_exporter
from tests.servers.prometheus import (
    PrometheusError,
    PrometheusServer,
    ScrapeTarget,
    find_prometheus,
)
from tests.servers.prometheus import missing_reason as prometheus_missing
from tests.servers.triton import TritonError, TritonServer, find_tritonserver
from tests.servers.triton import missing_reason as triton_missing

REQUIRE_ENV = "MLOPS_TUI_REQUIRE_SERVERS"
TRITON_JOB, DCGM_JOB = "triton", "dcgm-exporter"
_skip_reasons: list[str] = []


def _required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def require_servers(*names: str) -> None:
    """Skip (or fail, when ``MLOPS_TUI_REQUIRE_SERVERS`` is set) unless the named servers
    can run here: ``"prometheus"`` (prometheus + promtool) and/or ``"triton"``."""
    reasons = []
    if "prometheus" in names and find_prometheus() is None:
        reasons.append(prometheus_missing())
    if "triton" in names and find_tritonserver() is None:
        reasons.append(triton_missing())
    if "node-exporter" in names and find_node_exporter() is None:
        reasons.append("no prometheus-node-exporter (apt-get install -y "
                       "prometheus-node-exporter)")
    if not reasons:
        return
    reason = "metrics servers unavailable: " + "; ".join(reasons)
    if _required():
        pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
    if reason not in _skip_reasons:
        _skip_reasons.append(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def triton_server() -> Iterator[TritonServer]:
    require_servers("triton")
    server = TritonServer()
    try:
        server.start()
    except TritonError as e:
        server.close()
        pytest.fail(f"tritonserver did not start: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def dcgm_exporter() -> Iterator[DcgmExporter]:
    with DcgmExporter(DEFAULT_GPUS) as exporter:
        yield exporter


@pytest.fixture(scope="session")
def node_exporter() -> Iterator[NodeExporter]:
    require_servers("node-exporter")
    with NodeExporter() as exporter:
        yield exporter


@pytest.fixture(scope="session")
def prometheus_server(
    triton_server: TritonServer, dcgm_exporter: DcgmExporter, node_exporter: NodeExporter
) -> Iterator[PrometheusServer]:
    require_servers("prometheus")
    server = PrometheusServer(
        [
            ScrapeTarget(
                TRITON_JOB,
                triton_server.metrics_port,
                labels={"namespace": TRITON_NAMESPACE, "pod": TRITON_POD},
            ),
            ScrapeTarget(DCGM_JOB, dcgm_exporter.port, honor_labels=True),
            # what Kubernetes service discovery adds: the node the exporter runs on
            ScrapeTarget("node", node_exporter.port, labels={"node": "gpu-node-1"}),
        ],
        scrape_interval="1s",
    )
    try:
        server.start()
        server.wait_for_targets(timeout=15.0)
    except PrometheusError as e:
        server.close()
        pytest.fail(f"prometheus did not start: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for reason in _skip_reasons:
        terminalreporter.write_line(f"SKIPPED metrics-server tests: {reason}", yellow=True)
