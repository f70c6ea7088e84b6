"""The Prometheus configuration the monitoring stack runs with (a dict; YAML by ``render``).

Four jobs, each finding its targets through the Kubernetes API (``kubernetes_sd_configs``,
role ``pod``; the ServiceAccount's ClusterRole allows it):

- ``kubernetes-pods``: every pod annotated ``prometheus.io/scrape: "true"``, at its
  ``prometheus.io/port`` and ``prometheus.io/path`` (Triton pods from ``deploy`` carry
  them: backends/deploy/manifests.py). Adds ``namespace``, ``pod`` and ``node``: the Triton
  queries group by ``pod`` and ``namespace``.
- ``dcgm-exporter``: the exporter's pods (by label, in the stack's namespace) with
  ``honor_labels``: its ``namespace``/``pod``/``container`` labels name the workload holding
  a GPU, not the exporter; no ``pod``/``namespace`` target label is added, so an idle GPU
  never looks allocated to the exporter's own pod.
- ``node-exporter``: its pods (hostNetwork: the node's address) with ``node``.
- ``prometheus``: itself.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlops_tui.backends.monitoring.spec import MonitoringSpec

JOB_PODS, JOB_DCGM, JOB_NODE, JOB_SELF = ("kubernetes-pods", "dcgm-exporter",
                                          "node-exporter", "prometheus")
APP_LABEL = "app.kubernetes.io/name"
# what Prometheus makes of a pod label's name in its __meta_ labels
_APP_META = "__meta_kubernetes_pod_label_app_kubernetes_io_name"
_ANNOTATION = "__meta_kubernetes_pod_annotation_prometheus_io_"
DCGM_APP, NODE_EXPORTER_APP, PROMETHEUS_APP = "dcgm-exporter", "node-exporter", "prometheus"
PROMETHEUS_PORT, DCGM_PORT, NODE_EXPORTER_PORT = 9090, 9400, 9100
METRICS_PORT_NAME = "metrics"


def _label(target: str, source: str) -> dict[str, Any]:
    return {"source_labels": [source], "target_label": target}


_NODE = _label("node", "__meta_kubernetes_pod_node_name")


def _annotated_pods(interval: str) -> dict[str, Any]:
    return {
        "job_name": JOB_PODS,
        "scrape_interval": interval,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [f"{_ANNOTATION}scrape"], "regex": "true", "action": "keep"},
            # a finished pod keeps its IP in the API for a while: no target for it
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Pending|Succeeded|Failed",
             "action": "drop"},
            {"source_labels": [f"{_ANNOTATION}path"], "regex": "(.+)",
             "target_label": "__metrics_path__"},
            # one target per pod, at the annotated port (a pod with several container
            # ports gives several identical targets, which Prometheus merges)
            {"source_labels": ["__address__", f"{_ANNOTATION}port"],
             "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2",
             "target_label": "__address__"},
            _label("namespace", "__meta_kubernetes_namespace"),
            _label("pod", "__meta_kubernetes_pod_name"),
            _NODE,
        ],
    }


def _app_pods(job: str, app: str, namespace: str, interval: str,
              honor_labels: bool) -> dict[str, Any]:
    return {
        "job_name": job,
        "scrape_interval": interval,
        "honor_labels": honor_labels,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {"source_labels": [_APP_META], "regex": app, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"],
             "regex": METRICS_PORT_NAME, "action": "keep"},
            _NODE,
        ],
    }


def prometheus_config(spec: MonitoringSpec) -> dict[str, Any]:
    """The whole ``prometheus.yml`` for ``spec`` (its exporters' jobs only when installed).

    Returns:
        The config as a dict (what ``promtool check config`` accepts once rendered).
    """
    interval = spec.scrape_interval
    jobs = [{"job_name": JOB_SELF, "static_configs": [
        {"targets": [f"localhost:{PROMETHEUS_PORT}"]}]}, _annotated_pods(interval)]
    if "dcgm" in spec.components:
        jobs.append(_app_pods(JOB_DCGM, DCGM_APP, spec.namespace, interval, True))
    if "node-exporter" in spec.components:
        jobs.append(_app_pods(JOB_NODE, NODE_EXPORTER_APP, spec.namespace, interval, False))
    # Prometheus refuses a scrape timeout above the interval
    timeout = "10s" if _seconds(interval) >= 10 else interval
    return {"global": {"scrape_interval": interval, "scrape_timeout": timeout,
                       "evaluation_interval": interval},
            "scrape_configs": jobs}


def _seconds(duration: str) -> float:
    """Seconds of a Prometheus duration (checked by MonitoringSpec)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
             "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration))


def render(config: dict[str, Any]) -> str:
    """``config`` as the YAML file Prometheus reads."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=120)
