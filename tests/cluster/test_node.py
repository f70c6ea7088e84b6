"""The real node (kubelet + containerd) joined to the real control plane."""

from __future__ import annotations

import contextlib
import os
import secrets
import time

import pytest

from tests.cluster import node_host
from tests.cluster.node import LABEL_KEY, RealNode, missing_reason

pytestmark = pytest.mark.apiserver


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - not there yet
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def busybox_pod(node: RealNode, name: str, command: list[str], **spec) -> dict:
    container = {"name": "main", "image": node.images["busybox"], "command": command}
    return {
        "metadata": {"name": name},
        "spec": node.place({"containers": [container], **spec}),
    }


def phase(core, name: str, ns: str) -> str:
    return core.read_namespaced_pod(name, ns).status.phase


def test_node_is_ready_tainted_and_labelled(real_node, control_plane):
    node = control_plane.core_v1().read_node(real_node.name)
    ready = {c.type: c.status for c in node.status.conditions}["Ready"]
    assert ready == "True"
    assert node.metadata.labels[LABEL_KEY] == "true"
    assert {"key": LABEL_KEY, "value": "true", "effect": "NoSchedule"} in [
        {"key": t.key, "value": t.value, "effect": t.effect} for t in node.spec.taints
    ]
    assert node.status.node_info.kubelet_version == "v1.20.2"
    assert node.status.node_info.container_runtime_version.startswith("containerd://1.6")
    assert {"type": "InternalIP", "address": real_node.ip} in [
        {"type": a.type, "address": a.address} for a in node.status.addresses
    ]
    assert {"pause", "busybox"} <= set(real_node.images)


def test_busybox_pod_runs_is_reachable_and_stops_when_deleted(
    real_node, control_plane, fresh_namespace
):
    core = control_plane.core_v1()
    body = busybox_pod(real_node, "web", ["httpd", "-f", "-p", "8080", "-h", "/"])
    started = time.monotonic()
    core.create_namespaced_pod(fresh_namespace, body)
    wait_for(lambda: phase(core, "web", fresh_namespace) == "Running", 60, "pod Running")
    running_after = time.monotonic() - started
    pod = core.read_namespaced_pod("web", fresh_namespace)
    assert pod.spec.node_name == real_node.name
    assert pod.status.pod_ip.startswith(real_node.pod_subnet.rsplit(".", 2)[0])
    wait_for(lambda: real_node.pod_ip_reachable(pod.status.pod_ip, 8080), 20, "pod IP reachable")

    core.delete_namespaced_pod("web", fresh_namespace, grace_period_seconds=1)

    def gone() -> bool:
        try:
            core.read_namespaced_pod("web", fresh_namespace)
        except Exception as e:  # noqa: BLE001 - 404 is what we wait for
            return getattr(e, "status", None) == 404
        return False

    # the container stops at its grace period; the kubelet confirms the deletion once the
    # pod's volumes and cgroup are gone, on its 10 s status sync (slower under load)
    wait_for(lambda: not real_node.pod_ip_reachable(pod.status.pod_ip, 8080, timeout=1), 30,
             "the container stopped")
    wait_for(gone, 90, "pod deleted (the kubelet confirmed it)")
    print(f"busybox pod Running {running_after:.1f} s after create")


def test_untolerating_pods_stay_off_the_node(real_node, control_plane, fresh_namespace):
    """Other tests' pods (no toleration) are never scheduled onto the real node."""
    core = control_plane.core_v1()
    body = {
        "metadata": {"name": "stray"},
        "spec": {
            "nodeSelector": real_node.node_selector,
            "containers": [{"name": "c", "image": real_node.images["busybox"]}],
        },
    }
    core.create_namespaced_pod(fresh_namespace, body)

    def unschedulable() -> bool:
        conds = core.read_namespaced_pod("stray", fresh_namespace).status.conditions or []
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in conds)

    wait_for(unschedulable, 30, "the scheduler refusing the pod")
    assert core.read_namespaced_pod("stray", fresh_namespace).spec.node_name is None


def test_stop_leaves_nothing_behind(control_plane, fresh_namespace):
    """A second node: start, run a pod, stop; everything it set up is gone."""
    if (reason := missing_reason()) is not None:
        pytest.skip(f"real node unavailable: {reason}")
    alone_before = not any(node_host._slot_held(i) for i in range(node_host.MAX_SLOTS))
    sysctls_before = node_host.read_sysctls()
    node = RealNode(control_plane, f"real-teardown-{secrets.token_hex(2)}")
    node.start()
    try:
        slot, workdir, pids = node.slot, node.workdir, node.pids()
        assert slot is not None and workdir is not None and set(pids) == {"containerd", "kubelet"}
        core = control_plane.core_v1()
        body = busybox_pod(node, "sleeper", ["sleep", "3600"])
        body["spec"]["nodeName"] = node.name  # both real nodes carry the same label
        core.create_namespaced_pod(fresh_namespace, body)
        wait_for(lambda: phase(core, "sleeper", fresh_namespace) == "Running", 60, "pod Running")
        assert node_host.cgroup_pids(slot.cgroup_root)  # the pod's processes
        assert node_host.read_sysctls()["kernel/panic"] == "10"  # what the kubelet sets
        shims = node_runtime_shims(node)
        assert shims
    finally:
        node.stop()

    for pid in [*pids.values(), *shims]:
        assert not _alive(pid), f"process {pid} still runs"
    assert not node_host.bridge_exists(slot.bridge)
    for mount in node_host.cgroup_mounts():
        assert not (mount / slot.cgroup_root.lstrip("/")).exists()
    assert not workdir.exists()
    names = [n.metadata.name for n in control_plane.core_v1().list_node().items]
    assert node.name not in names
    # the last node to stop restores them (other test sessions may run nodes meanwhile;
    # test_the_last_node_to_stop_restores_the_sysctls covers that logic on its own)
    alone_after = not any(node_host._slot_held(i) for i in range(node_host.MAX_SLOTS))
    if alone_before and alone_after:
        assert node_host.read_sysctls() == sysctls_before
        assert not (node_host.STATE_DIR / "baseline.json").exists()


def node_runtime_shims(node: RealNode) -> list[int]:
    from tests.cluster.node_runtime import shim_pids

    return shim_pids(node.containerd_socket)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_triton_pod_serves_a_model_from_a_configmap(real_node, control_plane, fresh_namespace):
    """The Triton image as the deploy feature runs it: ``tritonserver`` on PATH, models
    in /models, an HTTP readiness probe; the host infers through the pod IP."""
    import json
    import urllib.request

    from tests.servers.triton import INPUT_NAME, MODEL_PY, OUTPUT_NAME, ModelSpec

    if "triton" not in real_node.images:
        pytest.skip("no Triton image (tests/servers/setup-triton.sh, then build-node.sh)")
    core = control_plane.core_v1()
    spec = ModelSpec("resnet50")
    core.create_namespaced_config_map(fresh_namespace, {
        "metadata": {"name": "models"},
        "data": {"config.pbtxt": spec.config_pbtxt(), "model.py": MODEL_PY},
    })
    container = {
        "name": "triton",
        "image": real_node.images["triton"],
        "command": ["tritonserver", "--model-repository=/models",
                    "--backend-config=python,shm-region-prefix-name=t1_"],
        "ports": [{"containerPort": p} for p in (8000, 8001, 8002)],
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8000},
                           "periodSeconds": 1},
        # one model per mount: a ConfigMap volume's own ..data entries at the top of the
        # repository would be taken for models that fail to load
        "volumeMounts": [{"name": "models", "mountPath": "/models/resnet50"}],
    }
    items = [{"key": "config.pbtxt", "path": "config.pbtxt"},
             {"key": "model.py", "path": "1/model.py"}]
    body = {"metadata": {"name": "triton"}, "spec": real_node.place({
        "containers": [container],
        "volumes": [{"name": "models", "configMap": {"name": "models", "items": items}}],
    })}
    started = time.monotonic()
    core.create_namespaced_pod(fresh_namespace, body)

    def ready() -> bool:
        conds = core.read_namespaced_pod("triton", fresh_namespace).status.conditions or []
        return any(c.type == "Ready" and c.status == "True" for c in conds)

    try:
        wait_for(ready, 90, "Triton pod Ready")
    except AssertionError as e:
        pod = core.read_namespaced_pod("triton", fresh_namespace)
        log = ""
        with contextlib.suppress(Exception):
            log = core.read_namespaced_pod_log("triton", fresh_namespace, tail_lines=200)
        raise AssertionError(f"{e}\nstatus: {pod.status}\nlog:\n{log}") from None
    ready_after = time.monotonic() - started
    ip = core.read_namespaced_pod("triton", fresh_namespace).status.pod_ip
    request = {"inputs": [{"name": INPUT_NAME, "shape": [1, 4], "datatype": "FP32",
                           "data": [1.0, 2.0, 3.0, 4.0]}]}
    req = urllib.request.Request(f"http://{ip}:8000/v2/models/resnet50/infer",
                                 data=json.dumps(request).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        outputs = json.loads(resp.read())["outputs"]
    assert outputs[0]["name"] == OUTPUT_NAME and outputs[0]["data"] == [1.0, 2.0, 3.0, 4.0]
    with urllib.request.urlopen(f"http://{ip}:8002/metrics", timeout=10) as resp:
        assert b"nv_inference_request_success" in resp.read()
    print(f"Triton pod Ready {ready_after:.1f} s after create")


def test_what_a_killed_session_left_is_removed_by_the_next_start(
    control_plane, fresh_namespace
):
    """A session killed with SIGKILL: its kubelet and containerd get SIGTERM (parent-death
    signal) and its slot lock goes with it, but shims, pods, cgroups, the bridge and the
    work dir stay. The next node start (taking a slot) removes all of it."""
    if (reason := missing_reason()) is not None:
        pytest.skip(f"real node unavailable: {reason}")
    node = RealNode(control_plane, f"real-killed-{secrets.token_hex(2)}")
    node.start()
    slot, workdir = node.slot, node.workdir
    assert slot is not None and workdir is not None
    try:
        core = control_plane.core_v1()
        body = busybox_pod(node, "orphan", ["sleep", "3600"])
        body["spec"]["nodeName"] = node.name
        core.create_namespaced_pod(fresh_namespace, body)
        wait_for(lambda: phase(core, "orphan", fresh_namespace) == "Running", 60, "pod Running")
        shims = node_runtime_shims(node)
        assert shims and set(shims) <= node_host.cgroup_pids(slot.cgroup_root)  # shims there
        node.images.wait()  # a real session dies at any time; this test kills it when idle
        # what the death of the test process does to the node
        for proc in node._procs.values():
            proc.stop()
        os.close(slot.fd)
        node.slot = None
        assert all(_alive(pid) for pid in shims)
        left = node_host.cgroup_pids(slot.cgroup_root) - set(shims)  # the pod's processes
        assert left
        assert node_host.bridge_exists(slot.bridge) and workdir.exists()

        next_slot = node_host.acquire_slot()
        node_host.release_slot(next_slot)
    finally:
        if node.slot is not None:
            node.stop()
        control_plane.remove_node(node.name)

    assert not any(_alive(pid) for pid in [*shims, *left])
    assert not node_host.bridge_exists(slot.bridge)
    assert not workdir.exists()
    for mount in node_host.cgroup_mounts():
        assert not (mount / slot.cgroup_root.lstrip("/")).exists()


def test_the_last_node_to_stop_restores_the_sysctls(tmp_path, monkeypatch):
    """The slot bookkeeping alone, on a state dir and a /proc/sys stand-in of its own
    (no node, no bridge, no cgroups: those calls are stubbed): two overlapping nodes, and
    a baseline left by a killed session."""
    proc_sys = tmp_path / "sys"
    for key in node_host.KUBELET_SYSCTLS:
        (proc_sys / key).parent.mkdir(parents=True, exist_ok=True)
        (proc_sys / key).write_text("0\n")
    monkeypatch.setattr(node_host, "STATE_DIR", tmp_path / "state")
    monkeypatch.setattr(node_host, "_PROC_SYS", proc_sys)
    monkeypatch.setattr(node_host, "delete_bridge", lambda name: None)
    monkeypatch.setattr(node_host, "remove_cgroup_root", lambda rel: [])
    panic = proc_sys / "kernel" / "panic"

    first = node_host.acquire_slot()
    panic.write_text("10\n")  # what a kubelet does
    second = node_host.acquire_slot()
    assert (first.index, second.index) == (0, 1)
    node_host.release_slot(first)
    assert panic.read_text().strip() == "10"  # the second node still runs
    node_host.release_slot(second)
    assert panic.read_text().strip() == "0"
    assert not (node_host.STATE_DIR / "baseline.json").exists()

    killed = node_host.acquire_slot()
    panic.write_text("10\n")
    os.close(killed.fd)  # the session dies: its lock goes, its baseline stays
    again = node_host.acquire_slot()
    assert panic.read_text().strip() == "0"  # restored before the new baseline
    node_host.release_slot(again)
    assert panic.read_text().strip() == "0"
