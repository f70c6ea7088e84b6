"""Play the kubelet's part for pods on the test's fake nodes: report them Running and Ready.

No kubelet runs on the test control plane, so a pod stays Pending forever. Writing the
status a kubelet would write (through the pods' ``status`` subresource, as a kubelet does)
lets the real controllers (ReplicaSet, Deployment, StatefulSet, DaemonSet) compute their
real status from it: this is the one hand-made piece behind a completed rollout.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes import client


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready_status(pod: client.V1Pod) -> dict:
    now = _now()
    conditions = [{"type": kind, "status": "True", "lastTransitionTime": now}
                  for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
    containers = [{"name": c.name, "image": c.image, "imageID": "", "ready": True,
                   "started": True, "restartCount": 0,
                   "state": {"running": {"startedAt": now}}} for c in pod.spec.containers]
    return {"phase": "Running", "conditions": conditions, "containerStatuses": containers,
            "startTime": now, "hostIP": "192.0.2.10", "podIP": "10.250.0.10"}


def _is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True"
               for c in (pod.status.conditions or ()) if pod.status)


def mark_ready(api: client.ApiClient, namespace: str, selector: str, limit: int = 0) -> int:
    """Report the scheduled, not yet Ready pods matching ``selector`` Running and Ready
    (at most ``limit`` of them when it is > 0, oldest first). Returns how many."""
    core = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    waiting = sorted((p for p in pods if p.spec.node_name and not _is_ready(p)
                      and p.metadata.deletion_timestamp is None),
                     key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))
    if limit > 0:
        waiting = waiting[:limit]
    for pod in waiting:
        core.patch_namespaced_pod_status(pod.metadata.name, namespace,
                                         {"status": _ready_status(pod)})
    return len(waiting)
