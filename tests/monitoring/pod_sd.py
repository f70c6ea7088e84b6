"""What Prometheus' Kubernetes pod discovery (``kubernetes_sd_configs`` role ``pod``) makes
of pods, as file_sd target groups, for a Prometheus built without it.

Debian's prometheus 2.42 (the one the tests run) is built without Kubernetes discovery
(``field kubernetes_sd_configs not found``), so the stack's scrape config is tested by
swapping each job's discovery for files holding the targets that discovery would give:
one target per container port at ``podIP:port`` (a pod without ports: ``podIP``), with
the documented ``__meta_kubernetes_*`` labels
(https://prometheus.io/docs/prometheus/latest/configuration/configuration/#pod, and
discovery/kubernetes/pod.go). The relabeling, scraping and queries after that are the real
Prometheus'.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

META = "__meta_kubernetes_"


def _name(text: str) -> str:
    """strutil.SanitizeLabelName: anything but [a-zA-Z0-9_] becomes _."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def _pod_labels(pod: dict[str, Any]) -> dict[str, str]:
    meta, status = pod["metadata"], pod.get("status") or {}
    ready = next((c["status"] for c in status.get("conditions") or ()
                  if c.get("type") == "Ready"), "unknown")
    out = {f"{META}namespace": meta["namespace"], f"{META}pod_name": meta["name"],
           f"{META}pod_ip": status.get("podIP", ""), f"{META}pod_uid": meta.get("uid", ""),
           f"{META}pod_node_name": pod["spec"].get("nodeName", ""),
           f"{META}pod_host_ip": status.get("hostIP", ""),
           f"{META}pod_phase": status.get("phase", ""), f"{META}pod_ready": ready.lower()}
    for kind, values in (("label", meta.get("labels") or {}),
                         ("annotation", meta.get("annotations") or {})):
        for key, value in values.items():
            out[f"{META}pod_{kind}_{_name(key)}"] = value
            out[f"{META}pod_{kind}present_{_name(key)}"] = "true"
    return out


def target_groups(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file_sd groups (one per target) pod discovery gives for ``pods``."""
    groups = []
    for pod in pods:
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:  # discovery gives no target for a pod without an address
            continue
        common = _pod_labels(pod)
        for container in pod["spec"]["containers"]:
            base = {**common, f"{META}pod_container_name": container["name"],
                    f"{META}pod_container_image": container.get("image", ""),
                    f"{META}pod_container_init": "false"}
            ports = container.get("ports") or []
            if not ports:
                groups.append({"targets": [ip], "labels": base})
            for port in ports:
                groups.append({"targets": [f"{ip}:{port['containerPort']}"], "labels": {
                    **base, f"{META}pod_container_port_name": port.get("name", ""),
                    f"{META}pod_container_port_number": str(port["containerPort"]),
                    f"{META}pod_container_port_protocol": port.get("protocol", "TCP")}})
    return groups


def with_files(config: dict[str, Any], pods: list[dict[str, Any]],
               folder: Path) -> dict[str, Any]:
    """``config`` with every ``kubernetes_sd_configs`` (role pod) swapped for a file of the
    targets it would discover among ``pods`` (honouring its ``namespaces``)."""
    out = copy.deepcopy(config)
    for job in out["scrape_configs"]:
        sds = job.pop("kubernetes_sd_configs", None)
        if sds is None:
            continue
        groups = []
        for sd in sds:
            assert sd["role"] == "pod", sd
            names = (sd.get("namespaces") or {}).get("names")
            groups += target_groups([p for p in pods
                                     if not names or p["metadata"]["namespace"] in names])
        path = folder / f"{job['job_name']}.json"
        path.write_text(json.dumps(groups))
        job["file_sd_configs"] = [{"files": [str(path)], "refresh_interval": "1s"}]
    return out
