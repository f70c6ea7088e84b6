"""The Kubernetes backend against a real kube-apiserver (etcd, scheduler, controllers).

No mocks here: every call crosses HTTP to the control plane that tests/cluster starts.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from kubernetes import client as k8s

from mlops_tui.backends.errors import (
    ConfigError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    ReadOnlyError,
)
from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.models import BackendSettings, ResourceRef
from tests.backends.conftest import wait_for
from tests.backends.kserve_crd import install_crd, remove_crd

pytestmark = pytest.mark.apiserver


def pod(name: str, labels: dict | None = None, gpus: int = 0, node: str = "") -> dict:
    container = {"name": "main", "image": "nvcr.io/nvidia/tritonserver:24.08-py3"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    spec: dict = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def deployment(name: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "server", "image": "x"},
                                                      {"name": "sidecar", "image": "y"}]}}},
    }


def names(store) -> set[str]:
    return {row.name for row in store.rows()}


def start_informer(backend, alias: str, namespace: str, **options):
    """An informer of its own (options set before it starts), stopped by the caller."""
    from mlops_tui.backends.cache import RowStore
    from mlops_tui.backends.kinds import columns_for, renderer_for
    from mlops_tui.backends.kubernetes.informer import Informer

    kind = backend.resolve_kind(alias)
    store = RowStore(kind, namespace, columns_for(kind))
    resource_version = options.pop("resource_version", "")
    informer = Informer(backend.conn.transport, kind, namespace, renderer_for(kind), store,
                        **options)
    informer.resource_version = resource_version
    informer.start()
    return informer, store


def test_connect_reports_cluster_and_discovers_versions(make_backend, control_plane):
    backend = make_backend()
    info = backend.info()
    assert info.context == "admin@test" and info.user == "admin"
    assert info.version.startswith("v1.20")
    assert info.server == control_plane.url
    # 1.20 serves CronJob only as batch/v1beta1: discovery, not a hard-coded version
    assert backend.resolve_kind("cj").version == "v1beta1"
    assert backend.resolve_kind("deploy").api_version == "apps/v1"
    assert backend.resolve_kind("no").name == "nodes"


def test_list_then_watch_delivers_incremental_changes(make_backend, control_plane,
                                                      fresh_namespace):
    core = control_plane.core_v1()
    core.create_namespaced_pod(fresh_namespace, pod("first"))
    backend = make_backend(namespace=fresh_namespace)
    store = backend.cache(backend.resolve_kind("po"), fresh_namespace)
    wait_for(lambda: store.state().synced and names(store) == {"first"}, what="first list")
    first = store.changes_since(0)
    assert first.reset and {r.name for r in first.upserts} == {"first"}

    core.create_namespaced_pod(fresh_namespace, pod("second", {"app": "b"}))
    wait_for(lambda: "second" in names(store), what="watch ADDED")
    change = store.changes_since(first.version)
    assert not change.reset and [r.name for r in change.upserts] == ["second"]
    assert change.upserts[0].labels == {"app": "b"}

    core.delete_namespaced_pod("first", fresh_namespace, grace_period_seconds=0)
    wait_for(lambda: "first" not in names(store), what="watch DELETED")
    gone = store.changes_since(change.version)
    assert gone.deletes and not gone.reset
    stats = backend.request_stats()
    assert stats["list_requests"] == 1 and stats["relists"] == 0


def test_watch_resumes_from_resource_version_without_relisting(make_backend, control_plane,
                                                               fresh_namespace):
    backend = make_backend(namespace=fresh_namespace)
    # a short server-side timeout ends each watch; the informer must resume, not relist
    informer, store = start_informer(backend, "pods", fresh_namespace, watch_timeout=1)
    try:
        wait_for(lambda: store.state().synced, what="sync")
        core = control_plane.core_v1()
        wait_for(lambda: informer.watch_requests >= 3, timeout=30, what="watch renewals")
        core.create_namespaced_pod(fresh_namespace, pod("after-renewals"))
        wait_for(lambda: "after-renewals" in names(store), what="event after renewals")
        assert informer.list_requests == 1 and informer.relists == 0
    finally:
        informer.stop()


def test_pagination_lists_every_object(make_backend, control_plane, fresh_namespace):
    core = control_plane.core_v1()
    for i in range(23):
        core.create_namespaced_config_map(fresh_namespace, {"metadata": {"name": f"cm-{i}"},
                                                            "data": {"k": "v"}})
    backend = make_backend(namespace=fresh_namespace)
    informer, store = start_informer(backend, "cm", fresh_namespace, page_size=5)
    try:
        wait_for(lambda: store.state().synced, what="sync")
        assert len([n for n in names(store) if n.startswith("cm-")]) == 23
        assert informer.list_requests == 5  # 23 objects, 5 a page
    finally:
        informer.stop()


def test_relists_after_410_gone_when_etcd_is_compacted(make_backend, control_plane,
                                                       fresh_namespace):
    backend = make_backend(namespace=fresh_namespace)
    kind = backend.resolve_kind("cm")
    store = backend.cache(kind, fresh_namespace)
    informer = backend.conn.informers[("", "configmaps", fresh_namespace)]
    wait_for(lambda: store.state().synced, what="sync")
    informer.stop()
    old_rv = informer.resource_version
    core = control_plane.core_v1()
    # configmaps skip the watch cache in the test control plane (see tests/cluster/fixtures),
    # so after a compaction etcd itself answers the old version with 410 Gone
    for i in range(3):
        core.create_namespaced_config_map(fresh_namespace, {"metadata": {"name": f"late-{i}"}})
    control_plane.compact_etcd()
    # a new informer resuming from the compacted version gets 410 Gone and relists
    resumed, fresh = start_informer(backend, "cm", fresh_namespace, resource_version=old_rv)
    try:
        wait_for(lambda: {"late-0", "late-1", "late-2"} <= names(fresh), timeout=30,
                 what="relist after 410")
        assert resumed.relists >= 1 and resumed.list_requests >= 1
    finally:
        resumed.stop()


def test_reconnects_after_apiserver_restart(make_backend, control_plane, fresh_namespace):
    backend = make_backend(namespace=fresh_namespace)
    store = backend.cache(backend.resolve_kind("pods"), fresh_namespace)
    wait_for(lambda: store.state().synced, what="sync")
    control_plane.restart_apiserver(down_for=2.0)
    control_plane.core_v1().create_namespaced_pod(fresh_namespace, pod("after-restart"))
    wait_for(lambda: "after-restart" in names(store), timeout=60, what="event after restart")
    wait_for(lambda: store.state().error == "", timeout=30, what="error cleared")


def test_custom_resource_found_by_discovery(make_backend, control_plane, fresh_namespace):
    """A CRD installed at run time (KServe's InferenceService) is found, listed, read and
    described; the CRD is removed afterwards (other tests expect a cluster without KServe)."""
    admin_api = control_plane.admin_client()
    install_crd(admin_api)
    try:
        _custom_resource_checks(make_backend, control_plane, fresh_namespace)
    finally:
        remove_crd(admin_api)


def _custom_resource_checks(make_backend, control_plane, fresh_namespace):
    custom = k8s.CustomObjectsApi(control_plane.admin_client())
    custom.create_namespaced_custom_object(
        "serving.kserve.io", "v1beta1", fresh_namespace, "inferenceservices",
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
         "metadata": {"name": "resnet"}, "spec": {"predictor": {"model": {"modelFormat": {
             "name": "onnx"}}}}})
    backend = make_backend(namespace=fresh_namespace)
    kind = backend.resolve_kind("isvc")
    assert kind is not None and kind.group == "serving.kserve.io" and kind.version == "v1beta1"
    store = backend.cache(kind, fresh_namespace)
    wait_for(lambda: names(store) == {"resnet"}, what="custom object row")
    assert store.find(fresh_namespace, "resnet").namespace == fresh_namespace
    ref = ResourceRef(kind, "resnet", fresh_namespace)
    obj = asyncio.run(backend.get_object(ref))
    assert (obj["kind"], obj["apiVersion"]) == ("InferenceService", "serving.kserve.io/v1beta1")
    assert obj["spec"] == {"predictor": {"model": {"modelFormat": {"name": "onnx"}}}}
    # describe shows this object (its name, namespace and the spec the server stored)
    text = asyncio.run(backend.describe(ref))
    assert re.search(r"^Name:\s+resnet$", text, re.M), text
    assert re.search(rf"^Namespace:\s+{fresh_namespace}$", text, re.M), text
    # the spec's nesting, in either key style (kubectl describe title-cases the keys)
    assert re.search(r"(modelFormat|Model Format):\s*\n\s+[Nn]ame:\s+onnx$", text, re.M), text
    with pytest.raises(NotFound):
        asyncio.run(backend.describe(ResourceRef(kind, "absent", fresh_namespace)))


def test_limited_user_gets_403_with_a_clear_message(control_plane):
    backend = KubernetesBackend(BackendSettings(kubeconfig=str(control_plane.limited_kubeconfig)))
    asyncio.run(backend.connect())
    try:
        assert backend.info().namespace == "team-a"
        pods = backend.cache(backend.resolve_kind("pods"), "team-a")
        wait_for(lambda: pods.state().synced, what="allowed list")
        nodes = backend.cache(backend.resolve_kind("nodes"), "")
        wait_for(lambda: "forbidden" in nodes.state().error, what="403 in cache state")
        assert not nodes.state().synced
        with pytest.raises(Forbidden, match="forbidden"):
            asyncio.run(backend.describe(ResourceRef(backend.resolve_kind("no"), "any")))
    finally:
        asyncio.run(backend.close())


def test_scale_restart_delete_deployment(make_backend, control_plane, fresh_namespace):
    apps = k8s.AppsV1Api(control_plane.admin_client())
    apps.create_namespaced_deployment(fresh_namespace, deployment("triton"))
    backend = make_backend(namespace=fresh_namespace)
    kind = backend.resolve_kind("deploy")
    ref = ResourceRef(kind, "triton", fresh_namespace)
    store = backend.cache(kind, fresh_namespace)
    wait_for(lambda: "triton" in names(store), what="deployment row")

    asyncio.run(backend.scale(ref, 3))
    assert asyncio.run(backend.get_object(ref))["spec"]["replicas"] == 3
    # the real ReplicaSet controller makes the pods; the label selector finds them
    pods = backend.cache(backend.resolve_kind("pods"), fresh_namespace)
    wait_for(lambda: len(pods.rows()) == 3, timeout=30, what="3 pods from the controller")
    assert asyncio.run(backend.containers(ref)) == ["server", "sidecar"]

    asyncio.run(backend.restart(ref))
    obj = apps.read_namespaced_deployment("triton", fresh_namespace)
    assert "kubectl.kubernetes.io/restartedAt" in obj.spec.template.metadata.annotations

    asyncio.run(backend.delete(ref))
    wait_for(lambda: "triton" not in names(store), what="deployment gone")
    with pytest.raises(NotFound):
        asyncio.run(backend.get_object(ref))


def test_readonly_refuses_every_mutation(make_backend, control_plane, fresh_namespace):
    apps = k8s.AppsV1Api(control_plane.admin_client())
    apps.create_namespaced_deployment(fresh_namespace, deployment("ro"))
    backend = make_backend(namespace=fresh_namespace, readonly=True)
    ref = ResourceRef(backend.resolve_kind("deploy"), "ro", fresh_namespace)
    for call in (backend.scale(ref, 0), backend.delete(ref), backend.restart(ref)):
        with pytest.raises(ReadOnlyError):
            asyncio.run(call)
    assert apps.read_namespaced_deployment("ro", fresh_namespace).spec.replicas == 1


def test_gpu_nodes_show_capacity_and_requests(make_backend, control_plane, fresh_namespace):
    control_plane.add_node("gpu-a", gpus=2, labels={"nvidia.com/gpu.product": "NVIDIA-A100"})
    core = control_plane.core_v1()
    core.create_namespaced_pod(fresh_namespace, pod("infer", gpus=1, node="gpu-a"))
    backend = make_backend()
    nodes = backend.cache(backend.resolve_kind("nodes"), "")

    def gpu_cells():
        row = nodes.find("", "gpu-a")
        return row and dict(zip([c.name for c in nodes.columns], row.cells, strict=True))

    wait_for(lambda: gpu_cells() and gpu_cells()["GPU-REQ"] == "1/2", what="GPU join")
    cells = gpu_cells()
    assert cells["GPU"] == "2" and cells["GPU-TYPE"] == "NVIDIA-A100"
    pods = backend.cache(backend.resolve_kind("pods"), fresh_namespace)
    wait_for(lambda: pods.find(fresh_namespace, "infer"), what="pod row")
    assert pods.find(fresh_namespace, "infer").cells[5] == "1"
    # the scheduler really refuses a pod that asks for more GPUs than any node has
    core.create_namespaced_pod(fresh_namespace, pod("too-big", gpus=8))
    events = backend.cache(backend.resolve_kind("ev"), fresh_namespace)
    wait_for(lambda: any("Insufficient nvidia.com/gpu" in r.search_text for r in events.rows()),
             timeout=30, what="FailedScheduling event")


def test_cordon_and_drain_a_node(make_backend, control_plane, fresh_namespace):
    control_plane.add_node("drain-me", gpus=1)
    core = control_plane.core_v1()
    core.create_namespaced_pod(fresh_namespace, pod("victim", node="drain-me"))
    backend = make_backend()
    ref = ResourceRef(backend.resolve_kind("nodes"), "drain-me")
    asyncio.run(backend.cordon(ref))
    assert core.read_node("drain-me").spec.unschedulable is True
    asyncio.run(backend.cordon(ref, False))
    assert not core.read_node("drain-me").spec.unschedulable

    async def drain() -> list[str]:
        return [line async for line in backend.drain(ref, timeout=2)]

    lines = asyncio.run(drain())
    assert lines[0] == "node/drain-me cordoned"
    assert f"evicting pod {fresh_namespace}/victim" in lines
    # no kubelet confirms the eviction, so the pod stays Terminating: drain says so
    assert lines[-1].startswith("still terminating") or lines[-1].endswith("drained")
    assert core.read_namespaced_pod("victim", fresh_namespace).metadata.deletion_timestamp


def test_secrets_show_keys_never_values(make_backend, control_plane, fresh_namespace):
    core = control_plane.core_v1()
    core.create_namespaced_secret(fresh_namespace, {
        "metadata": {"name": "hf-token"}, "stringData": {"token": "s3cr3t-value-xyz"}})
    backend = make_backend(namespace=fresh_namespace)
    kind = backend.resolve_kind("secrets")
    store = backend.cache(kind, fresh_namespace)
    wait_for(lambda: store.find(fresh_namespace, "hf-token"), what="secret row")
    row = store.find(fresh_namespace, "hf-token")
    assert "token" in row.cells and "s3cr3t" not in repr(row)
    ref = ResourceRef(kind, "hf-token", fresh_namespace)
    for text in (asyncio.run(backend.yaml(ref)), asyncio.run(backend.describe(ref))):
        assert "token" in text
        assert "s3cr3t" not in text and "czNjcjN0" not in text  # nor its base64


def test_context_switch_and_unknown_context(control_plane, tmp_path):
    merged = tmp_path / "config"
    a = control_plane.write_kubeconfig(tmp_path / "a", "admin", context="one")
    b = control_plane.write_kubeconfig(tmp_path / "b", "limited", context="two",
                                       namespace="team-a")
    import os

    env = os.pathsep.join([str(a), str(b)])
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = env
    try:
        backend = KubernetesBackend(BackendSettings())
        asyncio.run(backend.connect())
        assert [c.name for c in backend.contexts()] == ["one", "two"]
        assert backend.info().context == "one"  # the first file's current-context wins
        info = asyncio.run(backend.use_context("two"))
        assert info.context == "two" and info.user == "limited" and info.namespace == "team-a"
        with pytest.raises(ConfigError, match="not found"):
            asyncio.run(backend.use_context("three"))
        assert backend.info().context == "two"  # a failed switch keeps the old context
        asyncio.run(backend.close())
    finally:
        if old is None:
            del os.environ["KUBECONFIG"]
        else:
            os.environ["KUBECONFIG"] = old
    del merged


def test_unreachable_server_and_bad_token(control_plane, tmp_path):
    dead = control_plane.write_kubeconfig(tmp_path / "dead", "admin")
    text = dead.read_text().replace(control_plane.url, "https://127.0.0.1:1")
    dead.write_text(text)
    with pytest.raises(ConnectionFailed, match="connection refused"):
        asyncio.run(KubernetesBackend(BackendSettings(kubeconfig=str(dead))).connect())
    bad = control_plane.write_kubeconfig(tmp_path / "bad", "intruder", token="not-a-token")
    from mlops_tui.backends.errors import Unauthorized

    with pytest.raises(Unauthorized, match="401") as err:
        asyncio.run(KubernetesBackend(BackendSettings(kubeconfig=str(bad))).connect())
    assert "not-a-token" not in str(err.value)
