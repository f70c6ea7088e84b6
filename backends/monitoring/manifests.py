"""The monitoring stack's Kubernetes objects (pure: a MonitoringSpec in, plain dicts out).

:func:`build_manifests` gives every object in apply order: the namespace, then per
component its RBAC, config and workload. Prometheus is a Deployment (one replica,
``Recreate``: two servers must never share a TSDB) behind the Service ``prometheus``, port
``web`` 9090, labelled ``app.kubernetes.io/name: prometheus``: what the panels' discovery
(backends/prometheus ``SERVICE_NAMES`` and the API server's service proxy) looks for. A
changed config rolls the pod (its hash is a pod annotation), as a changed model repository
does for deploy.
"""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.monitoring import exporters, grafana, scrape
from mlops_tui.backends.monitoring.objects import (
    CONFIG_HASH,
    MANAGED_BY,
    NAME_LABEL,
    PART_OF,
    content_hash,
    labels,
    meta,
    rbac,
    read_rule,
)
from mlops_tui.backends.monitoring.spec import MonitoringSpec

__all__ = ["PROMETHEUS", "build_manifests", "prometheus_objects"]

PROMETHEUS = "prometheus"
PROMETHEUS_CONFIG = "prometheus-config"
PROMETHEUS_DATA = "prometheus-data"
PROMETHEUS_UID = 65534  # "nobody", as the upstream image runs


def _prometheus_pod(spec: MonitoringSpec, config_text: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/-/ready", "port": "web"}, "periodSeconds": 10,
             "timeoutSeconds": 5, "failureThreshold": 3}
    data: dict[str, Any] = ({"persistentVolumeClaim": {"claimName": PROMETHEUS_DATA}}
                            if spec.storage else {"emptyDir": {}})
    container = {
        "name": "prometheus", "image": spec.image("prometheus"),
        "args": ["--config.file=/etc/prometheus/prometheus.yml",
                 "--storage.tsdb.path=/prometheus",
                 f"--storage.tsdb.retention.time={spec.retention}",
                 "--web.enable-lifecycle"],
        "ports": [{"name": "web", "containerPort": scrape.PROMETHEUS_PORT,
                   "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "httpGet": {"path": "/-/healthy", "port": "web"},
                          "failureThreshold": 6},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                         {"name": "data", "mountPath": "/prometheus"}],
    }
    return {
        "metadata": {"labels": labels(PROMETHEUS),
                     "annotations": {CONFIG_HASH: content_hash(config_text)}},
        "spec": {"serviceAccountName": PROMETHEUS,
                 "securityContext": {"runAsUser": PROMETHEUS_UID, "runAsGroup": PROMETHEUS_UID,
                                     "runAsNonRoot": True, "fsGroup": PROMETHEUS_UID},
                 "containers": [container],
                 "volumes": [{"name": "config", "configMap": {"name": PROMETHEUS_CONFIG}},
                             {"name": "data", **data}]},
    }


def prometheus_objects(spec: MonitoringSpec) -> list[dict[str, Any]]:
    """Prometheus: RBAC for pod discovery, its config, the claim when asked, the Deployment
    and the Service the panels find."""
    rules = [read_rule([""], ["nodes", "nodes/metrics", "services", "endpoints", "pods"]),
             read_rule(["discovery.k8s.io"], ["endpointslices"]),
             {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    config_text = scrape.render(scrape.prometheus_config(spec))
    objects = rbac(spec, PROMETHEUS, rules)
    objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": meta(spec, PROMETHEUS_CONFIG, PROMETHEUS),
                    "data": {"prometheus.yml": config_text}})
    if spec.storage:
        claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": spec.storage}}}
        if spec.storage_class:
            claim["storageClassName"] = spec.storage_class
        objects.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": meta(spec, PROMETHEUS_DATA, PROMETHEUS), "spec": claim})
    objects.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(spec, PROMETHEUS),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": {NAME_LABEL: PROMETHEUS}},
                 "template": _prometheus_pod(spec, config_text)}})
    objects.append({
        "apiVersion": "v1", "kind": "Service", "metadata": meta(spec, PROMETHEUS),
        "spec": {"selector": {NAME_LABEL: PROMETHEUS},
                 "ports": [{"name": "web", "port": scrape.PROMETHEUS_PORT,
                            "targetPort": "web", "protocol": "TCP"}]}})
    return objects


def build_manifests(spec: MonitoringSpec) -> list[dict[str, Any]]:
    """Every object of ``spec``'s components, in apply order (the namespace first).

    Returns:
        Plain dicts, as server-side apply takes them.
    """
    objects: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": spec.namespace, "labels": {
            "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}}}]
    makers = {"prometheus": prometheus_objects, "dcgm": exporters.dcgm_objects,
              "node-exporter": exporters.node_exporter_objects,
              "grafana": grafana.grafana_objects}
    for component in spec.components:
        objects += makers[component](spec)
    return objects
