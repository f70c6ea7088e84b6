"""What every object of the monitoring stack shares: labels, metadata, RBAC, a content hash."""

from __future__ import annotations

import hashlib
from typing import Any

from mlops_tui.backends.monitoring.spec import MonitoringSpec

MANAGED_BY = "mlops-tui"
PART_OF = "mlops-tui-monitoring"
NAME_LABEL = "app.kubernetes.io/name"
CONFIG_HASH = "mlops-tui/config-sha256"


def labels(app: str) -> dict[str, str]:
    """The labels every object of ``app`` carries (the first one selects its pods)."""
    return {NAME_LABEL: app, "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY}


def meta(spec: MonitoringSpec, name: str, app: str | None = None) -> dict[str, Any]:
    """A namespaced object's metadata."""
    return {"name": name, "namespace": spec.namespace, "labels": labels(app or name)}


def content_hash(*parts: str) -> str:
    """A short hash of what a pod reads from ConfigMaps: changed → the pod rolls."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def rbac(spec: MonitoringSpec, app: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ServiceAccount ``app`` and a ClusterRole/Binding granting it ``rules``. The
    cluster-wide names carry the namespace, so two installs never share one."""
    cluster_name = f"{MANAGED_BY}-{spec.namespace}-{app}"
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(spec, app)}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": labels(app)}, "rules": rules}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": cluster_name, "labels": labels(app)},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": cluster_name},
               "subjects": [{"kind": "ServiceAccount", "name": app,
                             "namespace": spec.namespace}]}
    return [account, role, binding]


def read_rule(groups: list[str], resources: list[str]) -> dict[str, Any]:
    """A ClusterRole rule that reads (get, list, watch) ``resources``."""
    return {"apiGroups": groups, "resources": resources, "verbs": ["get", "list", "watch"]}
