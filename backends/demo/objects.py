"""Factories for Kubernetes-shaped JSON dicts, shaped as the API server serves them.

They are pure: the world fills in what the server would assign (uid, resourceVersion,
creationTimestamp, managedFields) when an object is created.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from mlops_tui.backends.render._common import Obj

GPU = "nvidia.com/gpu"
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
CP_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                 "effect": "NoSchedule"}
ALL_TOLERATION = {"operator": "Exists"}


def iso(t: float) -> str:
    """Epoch seconds as the API's RFC 3339 text."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None,
          annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def owner_ref(obj: Obj) -> Obj:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": _meta(name, labels={"kubernetes.io/metadata.name": name}),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node(name: str, index: int, *, cpu: str, memory: str, role: str = "",
         gpus: int = 0, product: str = "", mig: dict[str, int] | None = None,
         ready: bool = True, kubelet: str = "v1.30.2", instance: str = "") -> Obj:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "amd64"}
    if instance:
        labels["node.kubernetes.io/instance-type"] = instance
    if role:
        labels[f"node-role.kubernetes.io/{role}"] = ""
    taints: list[Obj] = []
    if role == "control-plane":
        taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    resources = {"cpu": cpu, "memory": memory, "ephemeral-storage": "488Gi", "pods": "110"}
    if gpus or mig:
        labels |= {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": product,
                   "nvidia.com/gpu.count": str(gpus or 1)}
        taints.append({"key": GPU, "value": "present", "effect": "NoSchedule"})
        resources[GPU] = str(gpus)
        if mig:
            labels |= {"nvidia.com/mig.strategy": "mixed",
                       "nvidia.com/mig.config": "all-1g.10gb"}
            resources |= {f"nvidia.com/{k}": str(v) for k, v in mig.items()}
    if not ready:
        taints += [{"key": "node.kubernetes.io/unreachable", "effect": e}
                   for e in ("NoSchedule", "NoExecute")]
    conditions = [{"type": t, "status": "False", "reason": f"KubeletHas{r}",
                   "message": f"kubelet has {m}"} for t, r, m in (
        ("MemoryPressure", "SufficientMemory", "sufficient memory available"),
        ("DiskPressure", "NoDiskPressure", "no disk pressure"),
        ("PIDPressure", "SufficientPID", "sufficient PID available"))]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status"} if ready else
                      {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                       "message": "Kubelet stopped posting node status."})
    if not ready:
        for cond in conditions[:3]:
            cond |= {"status": "Unknown", "reason": "NodeStatusUnknown",
                     "message": "Kubelet stopped posting node status."}
    return {
        "apiVersion": "v1", "kind": "Node", "metadata": _meta(name, labels=labels),
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"],
                 "providerID": f"demo://{name}", **({"taints": taints} if taints else {})},
        "status": {
            "capacity": dict(resources), "allocatable": dict(resources),
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet,
                         "containerRuntimeVersion": "containerd://1.7.13",
                         "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "5.15.0-105-generic",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def container(name: str, image: str, *, cpu: str = "100m", memory: str = "128Mi",
              gpus: int = 0, mig: dict[str, int] | None = None, ports: tuple[int, ...] = (),
              args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Obj:
    requests: Obj = {"cpu": cpu, "memory": memory}
    limits: Obj = {"memory": memory}
    extended = ({GPU: gpus} if gpus else {}) | {
        f"nvidia.com/{k}": v for k, v in (mig or {}).items()}
    for key, n in extended.items():
        requests[key] = limits[key] = str(n)
    out: Obj = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
                "resources": {"requests": requests, "limits": limits},
                "terminationMessagePath": "/dev/termination-log"}
    if args:
        out["args"] = list(args)
    if ports:
        out["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    if env:
        out["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return out


def template(labels: dict[str, str], containers: list[Obj], *,
             node_selector: dict[str, str] | None = None, tolerations: tuple[Obj, ...] = (),
             restart: str = "Always", account: str = "default") -> Obj:
    spec: Obj = {"containers": containers, "restartPolicy": restart,
                 "serviceAccountName": account, "terminationGracePeriodSeconds": 30,
                 "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def _workload(api: str, kind: str, ns: str, name: str, labels: dict[str, str],
              spec: Obj) -> Obj:
    return {"apiVersion": api, "kind": kind, "metadata": _meta(name, ns, labels),
            "spec": spec, "status": {}}


def deployment(ns: str, name: str, replicas: int, tpl: Obj) -> Obj:
    labels = tpl["metadata"]["labels"]
    return _workload("apps/v1", "Deployment", ns, name, labels, {
        "replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": tpl,
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})


def replicaset(dep: Obj, name: str, tpl: Obj, replicas: int, revision: int) -> Obj:
    labels = tpl["metadata"]["labels"]
    obj = _workload("apps/v1", "ReplicaSet", dep["metadata"]["namespace"], name, labels, {
        "replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": tpl})
    obj["metadata"]["ownerReferences"] = [owner_ref(dep)]
    obj["metadata"]["annotations"] = {
        "deployment.kubernetes.io/revision": str(revision),
        "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"])}
    return obj


def statefulset(ns: str, name: str, replicas: int, tpl: Obj, service: str) -> Obj:
    labels = tpl["metadata"]["labels"]
    return _workload("apps/v1", "StatefulSet", ns, name, labels, {
        "replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": tpl,
        "serviceName": service, "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"}})


def daemonset(ns: str, name: str, tpl: Obj) -> Obj:
    labels = tpl["metadata"]["labels"]
    return _workload("apps/v1", "DaemonSet", ns, name, labels, {
        "selector": {"matchLabels": dict(labels)}, "template": tpl,
        "updateStrategy": {"type": "RollingUpdate"}})


def job(ns: str, name: str, tpl: Obj, completions: int = 1) -> Obj:
    tpl["spec"]["restartPolicy"] = "Never"
    return _workload("batch/v1", "Job", ns, name, tpl["metadata"]["labels"], {
        "completions": completions, "parallelism": 1, "backoffLimit": 6, "template": tpl})


def cronjob(ns: str, name: str, schedule: str, tpl: Obj) -> Obj:
    tpl["spec"]["restartPolicy"] = "Never"
    return _workload("batch/v1", "CronJob", ns, name, tpl["metadata"]["labels"], {
        "schedule": schedule, "suspend": False, "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"spec": {"completions": 1, "template": tpl}}})


def service(ns: str, name: str, selector: dict[str, str], ports: dict[str, int],
            cluster_ip: str, kind: str = "ClusterIP", external: str = "") -> Obj:
    obj = _workload("v1", "Service", ns, name, {"app": name}, {
        "type": kind, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
        "selector": dict(selector), "sessionAffinity": "None",
        "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"}
                  for n, p in ports.items()]})
    if kind == "LoadBalancer":
        for port in obj["spec"]["ports"]:
            port["nodePort"] = 30000 + port["port"] % 2768
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": external}]}}
    return obj


def pvc(ns: str, name: str, size: str, storage_class: str, volume: str,
        phase: str = "Bound", mode: str = "ReadWriteOnce") -> Obj:
    obj = _workload("v1", "PersistentVolumeClaim", ns, name, {}, {
        "accessModes": [mode], "resources": {"requests": {"storage": size}},
        "storageClassName": storage_class, "volumeMode": "Filesystem",
        **({"volumeName": volume} if phase == "Bound" else {})})
    obj["status"] = {"phase": phase} | (
        {"capacity": {"storage": size}, "accessModes": [mode]} if phase == "Bound" else {})
    return obj


def configmap(ns: str, name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, ns),
            "data": dict(data)}


def secret(ns: str, name: str, data: dict[str, str], kind: str = "Opaque") -> Obj:
    """``data`` holds plain text; it is stored base64-encoded, as the API serves it."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, ns),
            "type": kind, "data": encoded}


def inference_service(ns: str, name: str, model_format: str, storage_uri: str, *,
                      ready: bool, reason: str = "", message: str = "",
                      gpus: int = 0) -> Obj:
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": model_format},
                                           "storageUri": storage_uri}}
    if gpus:
        predictor["model"]["resources"] = {"limits": {GPU: str(gpus)}}
    url = f"http://{name}.{ns}.demo.local"
    cond = {"type": "Ready", "status": "True" if ready else "False"}
    if not ready:
        cond |= {"reason": reason, "message": message}
    status: Obj = {"conditions": [
        {"type": "IngressReady", "status": "True" if ready else "False"},
        {"type": "PredictorReady", "status": "True" if ready else "False"}, cond]}
    if ready:
        status |= {"url": url, "address": {"url": f"http://{name}-predictor.{ns}.svc"},
                   "components": {"predictor": {"url": url, "latestReadyRevision":
                                                f"{name}-predictor-00001"}}}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": _meta(name, ns, {"app": name}),
            "spec": {"predictor": predictor}, "status": status}
