"""Smoke tests of the real control plane (kube-apiserver v1.20.2 built from Debian's source)."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.cluster.controlplane import LIMITED_NAMESPACE, ControlPlane

pytestmark = pytest.mark.apiserver


def _gpu_pod(name: str, node_label: str, gpus: int = 1) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"mlops-tui/test-node": node_label},
            "containers": [
                {
                    "name": "main",
                    "image": "registry.invalid/train:1",
                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                }
            ],
        },
    }


def test_readyz_and_version(control_plane: ControlPlane) -> None:
    assert control_plane.get("/readyz") == (200, "ok")
    status, body = control_plane.get("/version")
    assert status == 200
    assert json.loads(body)["gitVersion"] == "v1.20.2"
    assert set(control_plane.pids()) == {
        "etcd",
        "kube-apiserver",
        "kube-scheduler",
        "kube-controller-manager",
    }


def test_admin_creates_namespace_and_pod(control_plane: ControlPlane, fresh_namespace: str) -> None:
    from kubernetes import client

    core = client.CoreV1Api(control_plane.admin_client())
    assert core.read_namespace(fresh_namespace).status.phase == "Active"
    core.create_namespaced_pod(
        fresh_namespace,
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]},
        },
    )
    pod = core.read_namespaced_pod("p", fresh_namespace)
    assert pod.status.phase == "Pending"
    assert pod.spec.service_account_name == "default"


def test_scheduler_binds_gpu_pod_and_reports_insufficient(
    control_plane: ControlPlane, fresh_namespace: str
) -> None:
    from kubernetes import client

    core = client.CoreV1Api(control_plane.admin_client())
    label = secrets.token_hex(3)
    node = f"gpu-{label}"
    control_plane.add_node(node, gpus=1, labels={"mlops-tui/test-node": label}, mig={"1g.5gb": 7})
    try:
        n = core.read_node(node)
        assert n.status.allocatable["nvidia.com/gpu"] == "1"
        assert n.status.allocatable["nvidia.com/mig-1g.5gb"] == "7"

        core.create_namespaced_pod(fresh_namespace, _gpu_pod("fits", label))
        control_plane.wait_until(
            lambda: core.read_namespaced_pod("fits", fresh_namespace).spec.node_name == node,
            30,
            "pod 'fits' bound",
        )

        core.create_namespaced_pod(fresh_namespace, _gpu_pod("too-many", label))

        def unschedulable() -> bool:
            pod = core.read_namespaced_pod("too-many", fresh_namespace)
            for c in pod.status.conditions or []:
                if c.type == "PodScheduled" and c.status == "False":
                    assert c.reason == "Unschedulable"
                    assert "Insufficient nvidia.com/gpu" in c.message, c.message
                    return True
            return False

        control_plane.wait_until(unschedulable, 30, "pod 'too-many' unschedulable")
        assert core.read_namespaced_pod("too-many", fresh_namespace).spec.node_name is None

        # the heartbeat keeps a Lease for the node in kube-node-lease
        lease = client.CoordinationV1Api(control_plane.admin_client()).read_namespaced_lease(
            node, "kube-node-lease"
        )
        assert lease.spec.holder_identity == node
        ready = [c for c in core.read_node(node).status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True"
    finally:
        control_plane.remove_node(node)


def test_limited_user_is_forbidden_outside_team_a(control_plane: ControlPlane) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = ControlPlane.new_client(control_plane.limited_kubeconfig)
    try:
        core = client.CoreV1Api(api)
        assert core.list_namespaced_pod(LIMITED_NAMESPACE).items is not None
        with pytest.raises(ApiException) as exc:
            core.list_node()
        assert exc.value.status == 403
        with pytest.raises(ApiException) as exc:
            core.list_namespaced_pod("default")
        assert exc.value.status == 403
        with pytest.raises(ApiException) as exc:
            core.list_pod_for_all_namespaces()
        assert exc.value.status == 403
    finally:
        api.close()

    status, _ = control_plane.get("/api/v1/nodes", token=control_plane.limited_token)
    assert status == 403

    # the combined kubeconfig holds both contexts
    admin = ControlPlane.new_client(control_plane.kubeconfig, context="admin@test")
    limited = ControlPlane.new_client(control_plane.kubeconfig, context="limited@test")
    try:
        assert client.CoreV1Api(admin).list_node().items is not None
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(limited).list_node()
        assert exc.value.status == 403
    finally:
        admin.close()
        limited.close()


def test_compaction_makes_old_resource_version_gone(
    control_plane: ControlPlane, fresh_namespace: str
) -> None:
    from kubernetes import client, watch
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(control_plane.admin_client())
    ns = fresh_namespace
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"v": "0"}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"v": "0"}})
    old_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    for i in range(1, 4):
        core.patch_namespaced_config_map("cm", ns, {"data": {"v": str(i)}})
        core.patch_namespaced_secret("s", ns, {"stringData": {"v": str(i)}})
    cm_path = f"/api/v1/namespaces/{ns}/configmaps?resourceVersion={old_rv}"
    secret_path = f"/api/v1/namespaces/{ns}/secrets?resourceVersion={old_rv}"

    # before compaction, a watch from the old RV replays what happened since
    status, ev = control_plane.watch_first_event(cm_path)
    assert status == 200 and ev is not None and ev["type"] == "MODIFIED", ev

    control_plane.compact_etcd()

    # configmaps bypass the watch cache in the session fixture: etcd answers 410 at once
    status, ev = control_plane.watch_first_event(cm_path)
    assert status == 200 and ev is not None, ev
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410, ev
    assert ev["object"]["reason"] == "Expired", ev
    # ... which the kubernetes client raises as ApiException(410)
    w = watch.Watch()
    try:
        with pytest.raises(ApiException) as exc:
            for _ in w.stream(
                core.list_namespaced_config_map, ns, resource_version=old_rv, timeout_seconds=5
            ):
                pass
        assert exc.value.status == 410
    finally:
        w.stop()
    # a list that reaches etcd at the old RV is gone too, whatever the cache
    status, body = control_plane.get(secret_path + "&resourceVersionMatch=Exact")
    assert status == 410, body

    # cached resources (secrets here, pods, ...) are served from the apiserver's watch
    # cache, which still holds the window after a compaction ...
    status, ev = control_plane.watch_first_event(secret_path)
    assert status == 200 and ev is not None and ev["type"] == "MODIFIED", ev
    # ... until the apiserver restarts: the cache starts afresh at the current revision
    control_plane.restart_apiserver()
    status, ev = control_plane.watch_first_event(secret_path)
    assert status == 200 and ev is not None, ev
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410, ev
