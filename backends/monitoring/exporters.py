"""The exporters: DCGM (GPU nodes only) and node-exporter (every node), as DaemonSets.

DCGM exporter: on the nodes ``gpu_node_label`` marks, tolerating the ``nvidia.com/gpu``
taint; with ``DCGM_EXPORTER_KUBERNETES`` it maps each GPU to the pod holding it through
kubelet's pod-resources socket (``namespace``/``pod``/``container`` labels), and with
``DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS`` (``--kubernetes-enable-pod-labels``) it adds
that pod's labels, which needs reading pods cluster-wide (its ClusterRole). ``NODE_NAME``
makes its ``Hostname`` label the node's name (the key the GPU panels use), not the pod's.

node-exporter: on the host's network and PID namespace, port 9100, reading the host's
/proc, /sys and / read-only, tolerating every taint (control-plane and GPU nodes too).
"""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.monitoring import scrape
from mlops_tui.backends.monitoring.objects import NAME_LABEL, labels, meta, rbac, read_rule
from mlops_tui.backends.monitoring.spec import MonitoringSpec

DCGM = scrape.DCGM_APP
NODE_EXPORTER = scrape.NODE_EXPORTER_APP
GPU_TAINT = "nvidia.com/gpu"
POD_RESOURCES = "/var/lib/kubelet/pod-resources"
NOBODY = 65534


def _daemonset(spec: MonitoringSpec, app: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(spec, app),
            "spec": {"selector": {"matchLabels": {NAME_LABEL: app}},
                     "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": labels(app)}, "spec": pod}}}


def _metrics_port(port: int) -> list[dict[str, Any]]:
    return [{"name": scrape.METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"}]


def dcgm_objects(spec: MonitoringSpec) -> list[dict[str, Any]]:
    """The DCGM exporter: RBAC to read pods (their labels), and its DaemonSet."""
    # settings as the exporter's environment variables, not flags: an exporter too old for
    # one ignores the variable, where an unknown flag would stop it from starting
    env = [{"name": "DCGM_EXPORTER_LISTEN", "value": f":{scrape.DCGM_PORT}"},
           {"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"},
           {"name": "DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS", "value": "true"},
           {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
           # every GPU of the node, without requesting one (it must not take one from pods)
           {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    probe = {"httpGet": {"path": "/health", "port": scrape.METRICS_PORT_NAME},
             "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6}
    container = {
        "name": "dcgm-exporter", "image": spec.image("dcgm"), "env": env,
        "ports": _metrics_port(scrape.DCGM_PORT),
        "readinessProbe": probe, "livenessProbe": {**probe, "initialDelaySeconds": 30},
        # profiling metrics (DCGM_FI_PROF_*, the MIG utilization) need CAP_SYS_ADMIN
        "securityContext": {"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}},
        "volumeMounts": [{"name": "pod-resources", "mountPath": POD_RESOURCES,
                          "readOnly": True}],
    }
    pod: dict[str, Any] = {
        "serviceAccountName": DCGM,
        "nodeSelector": spec.gpu_selector,
        "tolerations": [{"key": GPU_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [container],
        "volumes": [{"name": "pod-resources", "hostPath": {"path": POD_RESOURCES,
                                                           "type": "Directory"}}],
    }
    if spec.gpu_runtime_class:
        pod["runtimeClassName"] = spec.gpu_runtime_class
    return [*rbac(spec, DCGM, [read_rule([""], ["pods"])]), _daemonset(spec, DCGM, pod)]


def node_exporter_objects(spec: MonitoringSpec) -> list[dict[str, Any]]:
    """node-exporter's DaemonSet (no API access: it needs no ServiceAccount token)."""
    host_paths = (("proc", "/proc", "/host/proc"), ("sys", "/sys", "/host/sys"),
                  ("root", "/", "/host/root"))
    container = {
        "name": "node-exporter", "image": spec.image("node-exporter"),
        "args": ["--path.procfs=/host/proc", "--path.sysfs=/host/sys",
                 "--path.rootfs=/host/root",
                 f"--web.listen-address=:{scrape.NODE_EXPORTER_PORT}"],
        "ports": _metrics_port(scrape.NODE_EXPORTER_PORT),
        "readinessProbe": {"httpGet": {"path": "/", "port": scrape.NODE_EXPORTER_PORT},
                           "periodSeconds": 10, "timeoutSeconds": 5},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "securityContext": {"runAsUser": NOBODY, "runAsNonRoot": True,
                            "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": name, "mountPath": mount, "readOnly": True,
                          **({"mountPropagation": "HostToContainer"} if name == "root" else {})}
                         for name, _, mount in host_paths],
    }
    pod = {
        "hostNetwork": True, "hostPID": True,
        "automountServiceAccountToken": False,
        "tolerations": [{"operator": "Exists"}],  # every node, whatever its taints
        "containers": [container],
        "volumes": [{"name": name, "hostPath": {"path": path}} for name, path, _ in host_paths],
    }
    return [_daemonset(spec, NODE_EXPORTER, pod)]
