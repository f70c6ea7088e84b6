"""The Kubernetes objects that serve a :class:`DeploySpec` (pure: spec in, manifests out).

Runtime ``triton``: a Deployment of ``tritonserver`` (probes on Triton's health endpoints,
a startup probe sized for slow model loads, Prometheus scrape annotations), its Service,
the claim when asked for, the ConfigMap of a local repository and a ServiceMonitor when the
cluster has the Prometheus operator. Runtime ``kserve``: an InferenceService (see
``kserve.py``). No credential is ever written into a manifest: S3 keys are references to
the Secret that holds them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_tui.backends.deploy import kserve, repository
from mlops_tui.backends.deploy.objects import (
    labels_of,
    meta,
    pvc_manifest,
    resources_of,
    selector_of,
    tolerations_of,
)
from mlops_tui.backends.deploy.repository import MAX_CONFIGMAP_BYTES
from mlops_tui.backends.deploy.spec import DeploySpec

__all__ = ["MAX_CONFIGMAP_BYTES", "ClusterFeatures", "build_manifests"]

REPOSITORY_HASH = "mlops-tui/model-repository-sha256"
PORTS = (("http", 8000), ("grpc", 8001), ("metrics", 8002))
PVC_MOUNT = "/mnt/models"
PROBE_PERIOD_S = 10
AWS_KEYS = (("AWS_ACCESS_KEY_ID", False), ("AWS_SECRET_ACCESS_KEY", False),
            ("AWS_SESSION_TOKEN", True))  # (key, optional)


@dataclass(frozen=True, slots=True)
class ClusterFeatures:
    """What the target cluster serves beyond the core API (found through discovery)."""

    service_monitor: bool = False  # monitoring.coreos.com/v1 ServiceMonitor
    inference_service: bool = False  # serving.kserve.io/v1beta1 InferenceService


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period,
            "failureThreshold": failures, "timeoutSeconds": 5}


def _s3_env(spec: DeploySpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if spec.s3_secret:
        for key, optional in AWS_KEYS:
            ref: dict[str, Any] = {"name": spec.s3_secret, "key": key}
            if optional:
                ref["optional"] = True
            env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    if spec.s3_region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": spec.s3_region})
    return env


def triton_container(spec: DeploySpec, repository_path: str) -> dict[str, Any]:
    """The ``tritonserver`` container reading the repository at ``repository_path``."""
    args = ["tritonserver", f"--model-repository={repository_path}"]
    if not spec.strict_model_config:
        args.append("--strict-model-config=false")
    args += ["--metrics-port", "8002", *spec.extra_args]
    container: dict[str, Any] = {
        "name": "tritonserver",
        "image": spec.image,
        "args": args,
        "ports": [{"name": name, "containerPort": port, "protocol": "TCP"}
                  for name, port in PORTS],
        "startupProbe": _probe("/v2/health/live", PROBE_PERIOD_S,
                               max(1, math.ceil(spec.startup_timeout_s / PROBE_PERIOD_S))),
        "livenessProbe": _probe("/v2/health/live", PROBE_PERIOD_S, 3),
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
    }
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    resources = resources_of(spec)
    if resources:
        container["resources"] = resources
    env = _s3_env(spec)
    if env:
        container["env"] = env
    return container


def _pod_annotations() -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": "8002",
            "prometheus.io/path": "/metrics"}


def _triton_objects(spec: DeploySpec, features: ClusterFeatures,
                    files: Mapping[str, bytes] | None) -> list[dict[str, Any]]:
    source = spec.source
    objects: list[dict[str, Any]] = []
    pod: dict[str, Any] = {}
    annotations = _pod_annotations()
    if source.kind == "local":
        if files is None:
            raise ValueError(f"model repository {spec.model_repository!r} is a local "
                             "directory: its files must be given (repository_files)")
        config_name = f"{spec.name}-models"
        config, items = repository.configmap(config_name, spec.namespace, labels_of(spec),
                                             files)
        objects.append(config)
        annotations[REPOSITORY_HASH] = repository.content_hash(files)
        pod["initContainers"] = [repository.copy_container(spec.init_image, files,
                                                           spec.image_pull_policy)]
        pod["volumes"] = repository.volumes(config_name, items)
        path, mount = repository.REPOSITORY_MOUNT, repository.REPOSITORY_MOUNT
    elif source.kind == "pvc":
        if spec.pvc_size:
            objects.append(pvc_manifest(spec, source))
        pod["volumes"] = [{"name": "models", "persistentVolumeClaim": {
            "claimName": source.claim, "readOnly": True}}]
        path = f"{PVC_MOUNT}/{source.path}".rstrip("/")
        mount = PVC_MOUNT
    else:
        path, mount = source.uri, ""
    container = triton_container(spec, path)
    if mount:
        container["volumeMounts"] = [{"name": "models", "mountPath": mount,
                                      "readOnly": True}]
    pod["containers"] = [container]
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    tolerations = tolerations_of(spec)
    if tolerations:
        pod["tolerations"] = tolerations
    objects.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(spec),
        "spec": {"replicas": spec.replicas,
                 "selector": {"matchLabels": selector_of(spec)},
                 "template": {"metadata": {"labels": labels_of(spec),
                                           "annotations": annotations},
                              "spec": pod}}})
    objects.append(service_manifest(spec))
    if features.service_monitor:
        objects.append(service_monitor_manifest(spec))
    return objects


def service_manifest(spec: DeploySpec) -> dict[str, Any]:
    """The Service in front of the pods: HTTP, gRPC and metrics by name."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(spec),
            "spec": {"type": spec.service_type, "selector": selector_of(spec),
                     "ports": [{"name": name, "port": port, "targetPort": name,
                                "protocol": "TCP"} for name, port in PORTS]}}


def service_monitor_manifest(spec: DeploySpec) -> dict[str, Any]:
    """The Prometheus operator's scrape target for the Service's metrics port."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": meta(spec),
            "spec": {"selector": {"matchLabels": selector_of(spec)},
                     "namespaceSelector": {"matchNames": [spec.namespace]},
                     "endpoints": [{"port": "metrics", "path": "/metrics",
                                    "interval": "15s"}]}}


def build_manifests(spec: DeploySpec, features: ClusterFeatures, *,
                    repository_files: dict[str, bytes] | None = None) -> list[dict[str, Any]]:
    """Every object to apply for ``spec``, in an order that applies cleanly (what a pod
    mounts before the workload).

    Args:
        spec: what to deploy.
        features: what the cluster serves (ServiceMonitor, InferenceService).
        repository_files: a local repository's files by relative path (see
            ``repository.read_repository``); needed only for a local repository.

    Returns:
        The manifests as plain dicts, each with its namespace.

    Raises:
        ValueError: a local repository without files or over
            :data:`MAX_CONFIGMAP_BYTES`; runtime kserve on a cluster without the
            InferenceService kind, or with a local repository.
    """
    if spec.runtime == "kserve":
        objects = kserve.manifests(spec, features.inference_service)
        if spec.pvc_size:
            objects.insert(0, pvc_manifest(spec, spec.source))
        return objects
    return _triton_objects(spec, features, repository_files)
