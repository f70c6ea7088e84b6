"""The node/pod GPU join's bookkeeping (pure; the join itself is tested against the real
API server in test_kubernetes.py)."""

from __future__ import annotations

from mlops_tui.backends.kubernetes.gpu import GpuRequests


def gpu_pod(node: str, gpus: int, phase: str = "Running") -> dict:
    return {"spec": {"nodeName": node, "containers": [
        {"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}, "status": {"phase": phase}}


def test_requests_follow_pods_and_a_relist_drops_the_vanished():
    changed: list[str] = []
    join = GpuRequests(changed.append)
    join.pod_seen("a", gpu_pod("n1", 2))
    join.pod_seen("b", gpu_pod("n1", 1))
    join.pod_seen("c", gpu_pod("n2", 4))
    assert (join.requested("n1"), join.requested("n2")) == (3, 4)
    join.pod_seen("b", gpu_pod("n1", 1, phase="Succeeded"))  # finished pods free their GPUs
    assert join.requested("n1") == 2
    changed.clear()
    join.retain({"a"})  # a relist after 410: "c" was deleted while the watch was away
    assert join.requested("n2") == 0 and changed == ["n2"]
    join.pod_gone("a")
    assert join.requested("n1") == 0
