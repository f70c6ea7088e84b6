"""The Prometheus config of the monitoring stack: promtool accepts it, and a real Prometheus
running it finds and scrapes what the stack and deploy put in the cluster: a Triton pod by
deploy's annotations (real Triton), the DCGM exporter (the fixture stand-in) with its
workload labels kept, node-exporter (real) with its node."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlops_tui.backends.deploy.manifests import ClusterFeatures
from mlops_tui.backends.deploy.manifests import build_manifests as deploy_manifests
from mlops_tui.backends.deploy.spec import DeploySpec
from mlops_tui.backends.monitoring import scrape
from mlops_tui.backends.monitoring.manifests import build_manifests
from mlops_tui.backends.monitoring.spec import MonitoringSpec
from tests.monitoring.pod_sd import with_files
from tests.servers.dcgm import TRITON_NAMESPACE, TRITON_POD
from tests.servers.fixtures import require_servers
from tests.servers.prometheus import PrometheusServer, find_prometheus

NO_K8S_SD = "field kubernetes_sd_configs not found"


def promtool_check(path: Path) -> subprocess.CompletedProcess:
    found = find_prometheus()
    assert found is not None
    return subprocess.run([str(found[1]), "check", "config", str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("spec", [MonitoringSpec(), MonitoringSpec(
    components=["prometheus"], scrape_interval="5s", namespace="obs")], ids=["all", "bare"])
def test_promtool_accepts_the_config(tmp_path: Path, spec: MonitoringSpec) -> None:
    require_servers("prometheus")
    config = scrape.prometheus_config(spec)
    path = tmp_path / "prometheus.yml"
    path.write_text(scrape.render(config))
    checked = promtool_check(path)
    if checked.returncode != 0 and NO_K8S_SD in checked.stdout + checked.stderr:
        # Debian's promtool is built without Kubernetes discovery: everything but the
        # discovery blocks (global, jobs, relabel rules) is checked with file discovery in
        # their place; the discovery blocks themselves are checked below and by
        # test_real_prometheus_scrapes_what_the_stack_finds.
        path.write_text(scrape.render(with_files(config, [], tmp_path)))
        checked = promtool_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
    for job in config["scrape_configs"]:
        for sd in job.get("kubernetes_sd_configs", ()):
            assert set(sd) <= {"role", "namespaces"} and sd["role"] == "pod"
            assert set(sd.get("namespaces", {})) <= {"names"}


def test_the_jobs() -> None:
    jobs = {j["job_name"]: j for j in scrape.prometheus_config(MonitoringSpec())[
        "scrape_configs"]}
    assert list(jobs) == ["prometheus", "kubernetes-pods", "dcgm-exporter", "node-exporter"]
    dcgm = jobs["dcgm-exporter"]
    assert dcgm["honor_labels"] is True
    assert dcgm["kubernetes_sd_configs"] == [{"role": "pod",
                                              "namespaces": {"names": ["monitoring"]}}]
    # the exporter's pod/namespace labels name the workload: the job adds neither
    assert {r.get("target_label") for r in dcgm["relabel_configs"]} == {None, "node"}
    # annotated pods: Triton's queries group by pod and namespace
    targets = {r.get("target_label") for r in jobs["kubernetes-pods"]["relabel_configs"]}
    assert {"namespace", "pod", "__address__", "__metrics_path__"} <= targets


class ConfiguredPrometheus(PrometheusServer):
    """A PrometheusServer running a config given whole."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._config = config

    def config(self) -> dict[str, Any]:
        return self._config


def _pod(name: str, node: str, template: dict[str, Any], ports: dict[str, int]
         ) -> dict[str, Any]:
    """A pod with a workload template's labels and annotations and its container ports
    moved to where the test's servers listen (``ports``: port name → port); the rest of
    the template (volumes, service account) needs a kubelet and is left out."""
    container = template["spec"]["containers"][0]
    return {"metadata": {"name": name, **{k: v for k, v in template["metadata"].items()
                                          if k in ("labels", "annotations")}},
            "spec": {"nodeName": node, "containers": [{
                "name": container["name"], "image": container["image"],
                "ports": [{**p, "containerPort": ports.get(p["name"], p["containerPort"])}
                          for p in container["ports"]]}]}}


@pytest.mark.apiserver
def test_real_prometheus_scrapes_what_the_stack_finds(control_plane, fresh_namespace,
                                                     triton_server, dcgm_exporter,
                                                     node_exporter, tmp_path: Path) -> None:
    require_servers("prometheus")
    from kubernetes import client

    core = client.CoreV1Api(control_plane.admin_client())
    node = f"mon-{secrets.token_hex(3)}"
    control_plane.add_node(node)
    spec = MonitoringSpec(namespace=fresh_namespace, scrape_interval="1s")
    stack = {m["metadata"]["name"]: m for m in build_manifests(spec)
             if m["kind"] == "DaemonSet"}
    triton = next(m for m in deploy_manifests(
        DeploySpec(name="resnet", model_repository="pvc://models/repo",
                   namespace=fresh_namespace), ClusterFeatures()) if m["kind"] == "Deployment")
    template = triton["spec"]["template"]
    port = triton_server.metrics_port
    template["metadata"]["annotations"]["prometheus.io/port"] = str(port)
    pods = {"resnet-0": _pod("resnet-0", node, template, {"metrics": port}),
            "dcgm-exporter-0": _pod("dcgm-exporter-0", node,
                                    stack["dcgm-exporter"]["spec"]["template"],
                                    {"metrics": dcgm_exporter.port}),
            "node-exporter-0": _pod("node-exporter-0", node,
                                    stack["node-exporter"]["spec"]["template"],
                                    {"metrics": node_exporter.port})}
    try:
        for name, body in pods.items():
            core.create_namespaced_pod(fresh_namespace, body)
            # no kubelet here: the status it would write (the servers listen on loopback)
            core.patch_namespaced_pod_status(name, fresh_namespace, {"status": {
                "phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}})
        listed = [core.api_client.sanitize_for_serialization(p) for p in
                  core.list_namespaced_pod(fresh_namespace).items]
        config = with_files(scrape.prometheus_config(spec), listed, tmp_path)
        with ConfiguredPrometheus(config, scrape_interval="1s", workdir=tmp_path) as prom:
            # deploy's annotations → one target per pod (three container ports merged)
            up = prom.wait_for(f'up{{job="kubernetes-pods",namespace="{fresh_namespace}"}}'
                               " == 1", timeout=20)
            assert [r["metric"]["pod"] for r in up] == ["resnet-0"]
            assert up[0]["metric"]["instance"] == f"127.0.0.1:{port}"
            assert up[0]["metric"]["node"] == node
            triton_server.infer("resnet50", count=3)
            served = prom.wait_for('nv_inference_request_success{model="resnet50"} > 0',
                                   timeout=20)
            assert {(r["metric"]["namespace"], r["metric"]["pod"]) for r in served} == {
                (fresh_namespace, "resnet-0")}
            # DCGM: the exporter's workload labels kept; an idle GPU gets no pod label
            # (not the exporter's own pod's)
            gpus = prom.wait_for('DCGM_FI_DEV_FB_USED{job="dcgm-exporter"}', timeout=20)
            assert {r["metric"].get("pod", "") for r in gpus} == {
                TRITON_POD, "llm-embedder-7d9f-abcde", ""}
            assert {r["metric"]["namespace"] for r in gpus if r["metric"].get("pod")} == {
                TRITON_NAMESPACE, "team-a"}
            assert {r["metric"]["node"] for r in gpus} == {node}
            # node-exporter: this machine's memory, under the node's name
            memory = prom.wait_for('node_memory_MemTotal_bytes{job="node-exporter"}',
                                   timeout=20)
            assert [r["metric"]["node"] for r in memory] == [node]
    finally:
        control_plane.remove_node(node)
