"""The monitoring manifests (pure): every object valid against the Kubernetes schemas, the
exporters placed where they belong, Prometheus where the panels' discovery looks."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mlops_tui.backends.deploy.schema import schema_errors, schema_note
from mlops_tui.backends.monitoring.manifests import build_manifests
from mlops_tui.backends.monitoring.objects import CONFIG_HASH
from mlops_tui.backends.monitoring.spec import MonitoringSpec
from mlops_tui.backends.prometheus import APP_LABELS, SERVICE_NAMES


def by_kind_name(manifests: list[dict]) -> dict[tuple[str, str], dict]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def pod_of(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", ["1.20", "1.25", "1.30"])
@pytest.mark.parametrize("spec", [
    MonitoringSpec(),
    MonitoringSpec(namespace="obs", storage="50Gi", storage_class="fast",
                   gpu_runtime_class="nvidia", registry="mirror.lab:5000"),
    MonitoringSpec(components=["dcgm"]),
], ids=["defaults", "everything-set", "dcgm-only"])
def test_every_manifest_validates_against_the_schema(spec: MonitoringSpec,
                                                     version: str) -> None:
    for manifest in build_manifests(spec):
        assert schema_errors(manifest, version) == [], manifest["metadata"]["name"]
        assert schema_note(manifest, version) is None  # no custom resource: all checked


def test_the_whole_stack_in_apply_order() -> None:
    manifests = build_manifests(MonitoringSpec())
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests] == [
        ("Namespace", "monitoring"),
        ("ServiceAccount", "prometheus"),
        ("ClusterRole", "mlops-tui-monitoring-prometheus"),
        ("ClusterRoleBinding", "mlops-tui-monitoring-prometheus"),
        ("ConfigMap", "prometheus-config"),
        ("Deployment", "prometheus"),
        ("Service", "prometheus"),
        ("ServiceAccount", "dcgm-exporter"),
        ("ClusterRole", "mlops-tui-monitoring-dcgm-exporter"),
        ("ClusterRoleBinding", "mlops-tui-monitoring-dcgm-exporter"),
        ("DaemonSet", "dcgm-exporter"),
        ("DaemonSet", "node-exporter"),
        ("ConfigMap", "grafana-datasources"),
        ("ConfigMap", "grafana-dashboard-providers"),
        ("ConfigMap", "grafana-dashboards"),
        ("Deployment", "grafana"),
        ("Service", "grafana"),
    ]
    namespaced = [m for m in manifests if m["kind"] not in (
        "Namespace", "ClusterRole", "ClusterRoleBinding")]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"monitoring"}


def test_prometheus_is_what_the_panels_discovery_looks_for() -> None:
    objects = by_kind_name(build_manifests(MonitoringSpec(namespace="obs")))
    service = objects[("Service", "prometheus")]
    assert service["metadata"]["name"] in SERVICE_NAMES
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] in APP_LABELS
    # the service proxy picks a port named web (or 9090): both hold
    assert service["spec"]["ports"] == [{"name": "web", "port": 9090, "targetPort": "web",
                                         "protocol": "TCP"}]
    deployment = objects[("Deployment", "prometheus")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # never two on one TSDB
    # the datasource Grafana gets is that service
    datasources = objects[("ConfigMap", "grafana-datasources")]["data"]["prometheus.yaml"]
    assert "url: http://prometheus.obs.svc:9090" in datasources


def test_prometheus_storage_is_a_claim_only_when_asked() -> None:
    plain = by_kind_name(build_manifests(MonitoringSpec(components=["prometheus"])))
    assert not any(kind == "PersistentVolumeClaim" for kind, _ in plain)
    volumes = pod_of(plain[("Deployment", "prometheus")])["volumes"]
    assert {"name": "data", "emptyDir": {}} in volumes
    stored = by_kind_name(build_manifests(MonitoringSpec(components=["prometheus"],
                                                         storage="20Gi")))
    claim = stored[("PersistentVolumeClaim", "prometheus-data")]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim["spec"]
    volumes = pod_of(stored[("Deployment", "prometheus")])["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}} in volumes


def test_a_changed_config_rolls_the_prometheus_pod() -> None:
    def config_hash(spec: MonitoringSpec) -> str:
        deployment = by_kind_name(build_manifests(spec))[("Deployment", "prometheus")]
        return deployment["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]
    assert config_hash(MonitoringSpec()) == config_hash(MonitoringSpec())
    assert config_hash(MonitoringSpec()) != config_hash(MonitoringSpec(scrape_interval="30s"))


def test_the_dcgm_exporter_runs_on_gpu_nodes_with_pod_labels_on() -> None:
    objects = by_kind_name(build_manifests(MonitoringSpec(gpu_node_label="gpu=yes",
                                                          gpu_runtime_class="nvidia")))
    pod = pod_of(objects[("DaemonSet", "dcgm-exporter")])
    assert pod["nodeSelector"] == {"gpu": "yes"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        pod["tolerations"]
    assert pod["runtimeClassName"] == "nvidia"
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["DCGM_EXPORTER_KUBERNETES"] == "true"
    assert env["DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS"] == "true"
    assert env["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert "resources" not in container  # it must not take a GPU from the workloads
    assert container["ports"] == [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}]
    # pod labels need reading pods cluster-wide: its ClusterRole, bound to its account
    role = objects[("ClusterRole", "mlops-tui-monitoring-dcgm-exporter")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch"]}]
    binding = objects[("ClusterRoleBinding", "mlops-tui-monitoring-dcgm-exporter")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dcgm-exporter",
                                    "namespace": "monitoring"}]
    assert pod["serviceAccountName"] == "dcgm-exporter"
    default = pod_of(by_kind_name(build_manifests(MonitoringSpec()))[
        ("DaemonSet", "dcgm-exporter")])
    assert default["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert "runtimeClassName" not in default


def test_node_exporter_runs_everywhere_on_the_host_network() -> None:
    pod = pod_of(by_kind_name(build_manifests(MonitoringSpec()))[
        ("DaemonSet", "node-exporter")])
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert "nodeSelector" not in pod
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == 9100
    assert all(m["readOnly"] for m in container["volumeMounts"])


def test_grafana_ships_the_two_dashboards_and_no_secret() -> None:
    manifests = build_manifests(MonitoringSpec())
    objects = by_kind_name(manifests)
    files = objects[("ConfigMap", "grafana-dashboards")]["data"]
    assert set(files) == {"gpu.json", "models.json"}
    assert {json.loads(text)["uid"] for text in files.values()} == {"mlops-tui-gpu",
                                                                    "mlops-tui-models"}
    assert not any(m["kind"] == "Secret" for m in manifests)
    text = json.dumps(manifests).lower()
    assert "password" not in text and "gf_security_admin" not in text


def test_only_the_components_asked_for() -> None:
    manifests = build_manifests(MonitoringSpec(components=["node-exporter", "prometheus"]))
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert ("DaemonSet", "node-exporter") in kinds and ("Deployment", "prometheus") in kinds
    assert not {name for _, name in kinds} & {"dcgm-exporter", "grafana"}
    config = by_kind_name(manifests)[("ConfigMap", "prometheus-config")]["data"]
    assert "job_name: node-exporter" in config["prometheus.yml"]
    assert "job_name: dcgm-exporter" not in config["prometheus.yml"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"components": []}, "name at least one component"),
    ({"components": ["prometheus", "loki"]}, "components.1"),
    ({"namespace": "Monitoring"}, "invalid namespace"),
    ({"storage": "lots"}, "'lots' is not a Kubernetes quantity"),
    ({"retention": "2 weeks"}, "'2 weeks' is not a Prometheus duration"),
    ({"gpu_node_label": "nvidia.com/gpu"}, "give key=value"),
    ({"gpu_node_label": "bad key!=x"}, "label key 'bad key!' is not a label name"),
    ({"grafana_password": "x"}, "Extra inputs are not permitted"),
])
def test_bad_input_names_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MonitoringSpec(**fields)
