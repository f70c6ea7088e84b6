"""The GPU smoke check: a pod requesting one ``nvidia.com/gpu`` runs ``nvidia-smi``.

When it stays Pending, :func:`explain_pending` says why in the words users search for:
the scheduler's ``Insufficient nvidia.com/gpu`` (no node advertises a free GPU: the device
plugin is not running), or a node preflight saw GPUs on that advertises none.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.provisioning.contract import StepContext, StepEvent

POD = "mlops-tui-gpu-smoke"
NAMESPACE = "default"
IMAGE = "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04"  # extra_vars: gpu_smoke_image
TIMEOUT_S = 180.0
POLL_S = 2.0
RESOURCE = "nvidia.com/gpu"
PLUGIN_HINT = ("kubectl -n kube-system get ds nvidia-device-plugin-daemonset")


def pod_manifest(image: str, runtime_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "tolerations": [{"key": RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": "nvidia-smi", "image": image, "command": ["nvidia-smi"],
                        "resources": {"limits": {RESOURCE: 1}}}],
    }
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": POD, "namespace": NAMESPACE,
                         "labels": {"app.kubernetes.io/managed-by": "mlops-tui"}},
            "spec": spec}


def _node_names(node: dict[str, Any]) -> set[str]:
    names = {node.get("metadata", {}).get("name", "")}
    for address in (node.get("status") or {}).get("addresses") or []:
        names.add(str(address.get("address", "")))
    return names - {""}


def explain_pending(events: list[dict[str, Any]], nodes: list[dict[str, Any]],
                    gpu_hosts: set[str]) -> str:
    """Why the smoke pod is Pending, with what to do.

    Args:
        events: the pod's events (``reason``, ``message``).
        nodes: every node object.
        gpu_hosts: hosts preflight found GPUs on (labels, addresses or host names).
    """
    reasons = []
    without_plugin = sorted(
        node["metadata"]["name"] for node in nodes
        if _node_names(node) & gpu_hosts and not int(
            str(((node.get("status") or {}).get("allocatable") or {}).get(RESOURCE, "0"))
            or 0))
    reasons += [f"device plugin not running on {name}: it has GPUs but advertises no "
                f"{RESOURCE} ({PLUGIN_HINT})" for name in without_plugin]
    scheduling = [e.get("message", "") for e in events if e.get("reason") == "FailedScheduling"]
    if any(f"Insufficient {RESOURCE}" in message for message in scheduling):
        reasons.append(f"no node advertises a free GPU: is the device plugin running? "
                       f"({PLUGIN_HINT})")
    elif scheduling and not reasons:
        reasons.append(scheduling[-1])
    return "; ".join(reasons) or "the pod is Pending (no scheduler event yet)"


async def run(ctx: StepContext, backend: Any, gpu_hosts: set[str], image: str,
              runtime: str | None, timeout: float = TIMEOUT_S) -> AsyncIterator[StepEvent]:
    """Create the pod, follow it to its end, show nvidia-smi's lines, delete it.

    Args:
        gpu_hosts: names and addresses of the hosts preflight found GPUs on.
        image: an image with nvidia-smi; runtime: the pod's RuntimeClass (k3s: nvidia).

    Raises:
        BackendError: it failed or stayed Pending (explained).
    """
    pods = backend.resolve_kind("pods")
    ref = ResourceRef(pods, POD, NAMESPACE)
    with contextlib.suppress(BackendError):  # a pod left by an interrupted run
        await backend.delete(ref, force=True)
    await backend.apply(pod_manifest(image, runtime),
                        namespace=NAMESPACE, field_manager="mlops-tui")
    try:
        deadline = time.monotonic() + timeout
        while True:
            pod = await backend.get_object(ref)
            phase = (pod.get("status") or {}).get("phase", "Pending")
            yield ctx.progress(f"smoke pod {phase}")
            if phase in ("Succeeded", "Failed"):
                break
            if time.monotonic() >= deadline:
                raise BackendError(await _pending_reason(backend, phase, gpu_hosts, timeout))
            await asyncio.sleep(POLL_S)
        lines = [line async for line in backend.logs(ref, follow=False, tail_lines=50)]
        for line in lines:
            yield ctx.output(line)
        if phase == "Failed":
            raise BackendError(f"nvidia-smi failed in the smoke pod: "
                               f"{lines[-1] if lines else 'no output'}")
    finally:
        with contextlib.suppress(BackendError):
            await backend.delete(ref, force=True)


async def _pending_reason(backend: Any, phase: str, gpu_hosts: set[str], timeout: float
                          ) -> str:
    if phase != "Pending":
        return f"the smoke pod is still {phase} after {timeout:.0f}s"
    events = await backend.list_objects(backend.resolve_kind("events"), NAMESPACE,
                                        field_selector=f"involvedObject.name={POD}")
    nodes = await backend.list_objects(backend.resolve_kind("nodes"), "")
    return (f"the GPU smoke pod stayed Pending for {timeout:.0f}s: "
            f"{explain_pending(events, nodes, gpu_hosts)}")
