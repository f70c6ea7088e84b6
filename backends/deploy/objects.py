"""What every object of a deployment shares: labels, resources, GPU tolerations, the claim."""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.deploy.spec import DeploySpec, ModelSource

MANAGED_BY = "mlops-tui"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
GPU_RESOURCE = "nvidia.com/gpu"


def labels_of(spec: DeploySpec) -> dict[str, str]:
    """The labels every object of the deployment carries (the selector's two first)."""
    return {NAME_LABEL: spec.name, MANAGED_LABEL: MANAGED_BY, **spec.labels}


def selector_of(spec: DeploySpec) -> dict[str, str]:
    """The labels that select the deployment's pods (never changes for a name)."""
    return {NAME_LABEL: spec.name}


def meta(spec: DeploySpec, name: str | None = None) -> dict[str, Any]:
    """An object's metadata: ``name`` (default: the spec's), the namespace, the labels."""
    return {"name": name or spec.name, "namespace": spec.namespace, "labels": labels_of(spec)}


def resources_of(spec: DeploySpec) -> dict[str, Any]:
    """Requests and limits: CPU and memory as given, GPUs as a limit (they never overcommit,
    so the API sets the request equal)."""
    requests = {k: v for k, v in (("cpu", spec.cpu), ("memory", spec.memory)) if v}
    limits: dict[str, Any] = dict(requests)
    if spec.gpus:
        limits[GPU_RESOURCE] = str(spec.gpus)  # a quantity: server-side apply wants a string
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def tolerations_of(spec: DeploySpec) -> list[dict[str, Any]]:
    """The spec's tolerations, plus the GPU nodes' usual taint when GPUs are asked for."""
    out = [dict(t) for t in spec.tolerations]
    gpu = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
    if spec.gpus and gpu not in out:
        out.append(gpu)
    return out


def pvc_manifest(spec: DeploySpec, source: ModelSource) -> dict[str, Any]:
    """The claim of a pvc:// repository (only when ``pvc_size`` asks to create it)."""
    body: dict[str, Any] = {
        "accessModes": ["ReadWriteMany" if spec.replicas > 1 else "ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.pvc_size}},
    }
    if spec.storage_class:
        body["storageClassName"] = spec.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(spec, source.claim), "spec": body}
