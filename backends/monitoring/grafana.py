"""Grafana: the Prometheus datasource and the two dashboards, provisioned from ConfigMaps.

No admin password is set or stored here: Grafana keeps its first-start default and asks
for a new one at the first login; anonymous users may view (port-forward to the Service
``grafana`` port 3000 and the dashboards are there). The datasource points at the stack's
own Prometheus Service by its cluster DNS name.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlops_tui.backends.monitoring import dashboards, scrape
from mlops_tui.backends.monitoring.objects import (
    CONFIG_HASH,
    NAME_LABEL,
    content_hash,
    labels,
    meta,
)
from mlops_tui.backends.monitoring.spec import MonitoringSpec

GRAFANA = "grafana"
GRAFANA_PORT = 3000
GRAFANA_UID = 472  # the upstream image's user
DATASOURCE_UID = "mlops-tui-prometheus"
DASHBOARD_DIR = "/var/lib/grafana/dashboards"
_PROVISIONING = "/etc/grafana/provisioning"


def prometheus_url(spec: MonitoringSpec) -> str:
    """The stack's Prometheus as pods in the cluster reach it."""
    return f"http://prometheus.{spec.namespace}.svc:{scrape.PROMETHEUS_PORT}"


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _configmaps(spec: MonitoringSpec) -> list[dict[str, Any]]:
    datasources = {"apiVersion": 1, "datasources": [{
        "name": "Prometheus", "type": "prometheus", "uid": DATASOURCE_UID, "access": "proxy",
        "url": prometheus_url(spec), "isDefault": True, "editable": False}]}
    providers = {"apiVersion": 1, "providers": [{
        "name": "mlops-tui", "folder": "mlops-tui", "type": "file",
        "disableDeletion": True, "allowUiUpdates": False,
        "options": {"path": DASHBOARD_DIR}}]}
    files = {name: dashboards.shipped(name) for name in dashboards.DASHBOARDS}

    def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(spec, name, GRAFANA),
                "data": data}
    return [configmap("grafana-datasources", {"prometheus.yaml": _yaml(datasources)}),
            configmap("grafana-dashboard-providers", {"mlops-tui.yaml": _yaml(providers)}),
            configmap("grafana-dashboards", files)]


def grafana_objects(spec: MonitoringSpec) -> list[dict[str, Any]]:
    """Grafana's ConfigMaps, Deployment and Service."""
    maps = _configmaps(spec)
    mounts = (("grafana-datasources", f"{_PROVISIONING}/datasources"),
              ("grafana-dashboard-providers", f"{_PROVISIONING}/dashboards"),
              ("grafana-dashboards", DASHBOARD_DIR))
    probe = {"httpGet": {"path": "/api/health", "port": "http"}, "periodSeconds": 10,
             "timeoutSeconds": 5, "failureThreshold": 6}
    container = {
        "name": "grafana", "image": spec.image("grafana"),
        "env": [{"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "true"},
                {"name": "GF_AUTH_ANONYMOUS_ORG_ROLE", "value": "Viewer"},
                {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
                {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"}],
        "ports": [{"name": "http", "containerPort": GRAFANA_PORT, "protocol": "TCP"}],
        "readinessProbe": probe, "livenessProbe": {**probe, "initialDelaySeconds": 30},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
        "volumeMounts": [{"name": name, "mountPath": path, "readOnly": True}
                         for name, path in mounts] + [
            {"name": "data", "mountPath": "/var/lib/grafana"}],
    }
    digest = content_hash(*(yaml.safe_dump(m["data"], sort_keys=True) for m in maps))
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(spec, GRAFANA),
        "spec": {"replicas": 1, "selector": {"matchLabels": {NAME_LABEL: GRAFANA}},
                 "template": {
                     "metadata": {"labels": labels(GRAFANA),
                                  "annotations": {CONFIG_HASH: digest}},
                     "spec": {
                         "automountServiceAccountToken": False,
                         "securityContext": {"runAsUser": GRAFANA_UID, "runAsNonRoot": True,
                                             "fsGroup": GRAFANA_UID},
                         "containers": [container],
                         "volumes": [{"name": name, "configMap": {"name": name}}
                                     for name, _ in mounts] + [
                             {"name": "data", "emptyDir": {}}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta(spec, GRAFANA),
               "spec": {"selector": {NAME_LABEL: GRAFANA},
                        "ports": [{"name": "http", "port": GRAFANA_PORT, "targetPort": "http",
                                   "protocol": "TCP"}]}}
    return [*maps, deployment, service]
