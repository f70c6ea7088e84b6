"""Panels without a port-forward: the cluster's Prometheus reached through the real API
server's service proxy. The API server will not proxy to loopback, so that Prometheus runs
in a network namespace of the test's own (a veth pair, 10.213.0.0/16)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest

from mlops_tui.backends.metrics_models import Screen, Window
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import create_source
from tests.backends.conftest import wait_for
from tests.servers.fixtures import REQUIRE_ENV, _required, require_servers
from tests.servers.netns import TestHost
from tests.servers.prometheus import find_prometheus

pytestmark = pytest.mark.apiserver


@pytest.fixture
def prometheus_in_netns(tmp_path: Path):
    require_servers("prometheus")  # a skip, or a failure with MLOPS_TUI_REQUIRE_SERVERS=1
    binaries = find_prometheus()
    reason = TestHost.missing_reason()
    if reason:
        if _required():
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
        pytest.skip(reason)
    with TestHost() as host:
        config = tmp_path / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{"job_name": "self",
                                "static_configs": [{"targets": [f"{host.ip}:9090"]}]}],
        }))
        host.run([str(binaries[0]), f"--config.file={config}",
                  f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                  f"--web.listen-address={host.ip}:9090"], str(tmp_path / "prometheus.log"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{host.ip}:9090/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("prometheus in the namespace never got ready: "
                        + (tmp_path / "prometheus.log").read_text()[-2000:])
        yield host


def test_no_prometheus_in_the_cluster_is_a_clear_error(make_backend):
    from mlops_tui.backends.errors import ConfigError

    backend = make_backend()
    with pytest.raises(ConfigError, match="no Prometheus: none found in the cluster"):
        asyncio.run(create_source(MetricsSettings(), backend))


def test_prometheus_through_the_service_proxy(make_backend, control_plane, fresh_namespace,
                                              prometheus_in_netns):
    host = prometheus_in_netns
    core = control_plane.core_v1()
    monitoring = fresh_namespace
    # The API server proxies only to an endpoint address that is a pod's IP: a pod bound
    # to a fake node, its status (no kubelet here) saying it runs at the namespace's IP
    control_plane.add_node("monitoring-node")
    core.create_namespaced_pod(monitoring, {
        "metadata": {"name": "prometheus-k8s-0", "labels": {"app": "prometheus"}},
        "spec": {"nodeName": "monitoring-node",
                 "containers": [{"name": "prometheus", "image": "prom/prometheus"}]}})
    core.patch_namespaced_pod_status("prometheus-k8s-0", monitoring, {"status": {
        "phase": "Running", "podIP": host.ip, "podIPs": [{"ip": host.ip}]}})
    core.create_namespaced_service(monitoring, {
        "metadata": {"name": "prometheus-k8s", "labels": {"app.kubernetes.io/name": "prometheus"}},
        "spec": {"ports": [{"name": "web", "port": 9090, "targetPort": 9090}]}})
    core.create_namespaced_endpoints(monitoring, {
        "metadata": {"name": "prometheus-k8s"},
        "subsets": [{"addresses": [{"ip": host.ip, "targetRef": {
            "kind": "Pod", "name": "prometheus-k8s-0", "namespace": monitoring}}],
                     "ports": [{"name": "web", "port": 9090}]}]})
    backend = make_backend()
    source = asyncio.run(create_source(MetricsSettings(rate_window="15s"), backend))
    assert source.describe() == f"{monitoring}/prometheus-k8s via the API server"
    assert source.url == (f"{control_plane.url}/api/v1/namespaces/{monitoring}/services/"
                          "http:prometheus-k8s:web/proxy")
    try:
        # the proxied Prometheus scrapes itself (its first scrape comes ~5 s after start):
        # its own series, read through the API server, carry the namespace's address
        def scraped_itself():
            return asyncio.run(source.instant('up{job="self"}'))

        wait_for(scraped_itself, timeout=20, what="the proxied Prometheus's own series")
        (up,) = scraped_itself()
        assert up.value == 1.0 and up.labels["instance"] == f"{host.ip}:9090"
        # a whole refresh through the proxy: every query answered, none failed
        snap = asyncio.run(source.snapshot(Screen.GPU, Window.M5))
        assert snap.errors == () and snap.queries == 10
        assert snap.notes == ("no DCGM exporter series (DCGM_FI_DEV_*) found",)
    finally:
        asyncio.run(source.close())
