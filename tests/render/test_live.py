"""The renderers against the running test apiserver, not only against the recording: its
v1.20 printer prints the same pods as ours, and the Kubernetes backend's describe finds the
related objects (events, replica sets, a node's pods) through the API."""

from __future__ import annotations

import asyncio
import copy
import re
import secrets

import pytest

from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.render import pods
from tests.backends.conftest import wait_for
from tests.render import manifests as m
from tests.render.recorder import Api

TAINT = {"key": "mlops-tui/render-test", "value": "only", "effect": "NoSchedule"}
TOLERATE = [{"key": TAINT["key"], "operator": "Exists"}]


@pytest.fixture
def own_node(control_plane):
    """A GPU node of this test's own, tainted so no other test's pod lands on it."""
    name = f"render-{secrets.token_hex(3)}"
    control_plane.add_node(name, gpus=2, taints=[TAINT])
    yield name
    control_plane.remove_node(name)


def test_hand_written_states_print_alike_live(control_plane, fresh_namespace, own_node):
    api = Api(control_plane.admin_client())
    for name, (obj, status, delete) in m.HAND_PODS.items():
        pod = copy.deepcopy(obj)
        pod["spec"]["nodeName"] = own_node
        api.create("pods", pod, fresh_namespace)
        current = api.get("pods", name, fresh_namespace)
        current["status"] = status  # written by hand: no kubelet runs on the fake node
        api.call("PUT", f"{api.collection('pods', fresh_namespace)}/{name}/status", current)
        if delete:
            api.call("DELETE", f"{api.collection('pods', fresh_namespace)}/{name}")
    table = api.table("pods", fresh_namespace)
    objs = {o["metadata"]["name"]: o for o in api.items("pods", fresh_namespace)}
    assert set(objs) == set(m.HAND_PODS) == set(table["rows"])
    for name, cells in table["rows"].items():
        printed = dict(zip(table["columns"], map(str, cells), strict=True))
        summary = pods.pod_summary(objs[name])
        ours = {"Ready": f"{summary.ready}/{summary.total}", "Status": summary.status,
                "Restarts": str(summary.restarts)}
        assert {k: printed[k] for k in ours} == ours, name


def test_kubernetes_describe_looks_up_related_objects(make_backend, control_plane,
                                                      fresh_namespace, own_node):
    api = Api(control_plane.admin_client())
    deploy = m.deployment("triton", 1, 1)
    deploy["spec"]["template"]["spec"].update(
        tolerations=TOLERATE, nodeSelector={"kubernetes.io/hostname": own_node})
    api.create("deployments", deploy, fresh_namespace)

    def scheduled() -> list:
        return [p for p in api.items("pods", fresh_namespace) if p["spec"].get("nodeName")]

    wait_for(scheduled, what="the deployment's pod bound to the test's node")

    def replica_set_counted() -> list:  # its status trails the pod it made
        return [r for r in api.items("replicasets", fresh_namespace)
                if (r.get("status") or {}).get("replicas") == 1]

    wait_for(replica_set_counted, what="the replica set's status to count its pod")
    (rs,) = api.items("replicasets", fresh_namespace)
    backend = make_backend(namespace=fresh_namespace)

    def text(alias: str, name: str, namespace: str = fresh_namespace) -> str:
        kind = backend.resolve_kind(alias)
        return asyncio.run(backend.describe(ResourceRef(kind, name, namespace)))

    described = text("deploy", "triton")
    assert re.search(rf"NewReplicaSet:\s+{rs['metadata']['name']} \(1/1 replicas created\)",
                     described)
    assert re.search(r"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller", described)
    assert re.search(r"Pods Status:\s+0 Running / 1 Waiting",
                     text("rs", rs["metadata"]["name"]))
    node = text("no", own_node, "")
    (pod,) = scheduled()
    assert re.search(rf"{fresh_namespace}\s+{pod['metadata']['name']}\s+100m\s+64Mi\s+1\s", node)
    assert re.search(r"nvidia.com/gpu \(incl. MIG\)\s+1/2", node)
    assert re.search(r"Normal\s+Scheduled\s+\S+\s+default-scheduler",
                     text("po", pod["metadata"]["name"]))
