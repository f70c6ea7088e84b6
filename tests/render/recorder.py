"""Record API objects from the real test apiserver into tests/fixtures/apiserver/.

Run it after a change to tests/render/manifests.py (about two minutes; it starts a control
plane of its own on free loopback ports and stops it by PID)::

    .venv/bin/python -m tests.render.recorder

For every kind it saves the objects as the server returns them (``<kind>.json``, a List)
and, in ``tables.json``, the rows the server's own v1.20 printer makes of them: the
server-side Table that ``kubectl get`` prints, with the moments just before and after it was
asked for (ages in it are computed between the two). Pods whose status the recorder wrote by
hand (see manifests.py) go to ``pods-status-by-hand.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.render import manifests as m

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apiserver"
JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
Obj = dict[str, Any]

# kind name -> (collection path, namespaced)
PATHS = {
    "pods": ("/api/v1", True), "deployments": ("/apis/apps/v1", True),
    "replicasets": ("/apis/apps/v1", True), "statefulsets": ("/apis/apps/v1", True),
    "daemonsets": ("/apis/apps/v1", True), "jobs": ("/apis/batch/v1", True),
    "cronjobs": ("/apis/batch/v1beta1", True), "services": ("/api/v1", True),
    "events": ("/api/v1", True), "persistentvolumeclaims": ("/api/v1", True),
    "configmaps": ("/api/v1", True), "secrets": ("/api/v1", True),
    "nodes": ("/api/v1", False), "namespaces": ("/api/v1", False),
    "persistentvolumes": ("/api/v1", False),
}
KINDS = {"pods": "Pod", "deployments": "Deployment", "replicasets": "ReplicaSet",
         "statefulsets": "StatefulSet", "daemonsets": "DaemonSet", "jobs": "Job",
         "cronjobs": "CronJob", "services": "Service", "events": "Event",
         "persistentvolumeclaims": "PersistentVolumeClaim", "configmaps": "ConfigMap",
         "secrets": "Secret", "nodes": "Node", "namespaces": "Namespace",
         "persistentvolumes": "PersistentVolume"}


class Api:
    """Raw JSON requests as admin: the server's own bytes, not a client's re-serialization."""

    def __init__(self, client) -> None:
        self._pool = client.rest_client.pool_manager
        self._host = client.configuration.host

    def call(self, method: str, path: str, body: Obj | None = None, accept: str = JSON,
             query: str = "") -> Obj:
        resp = self._pool.request(
            method, self._host + path + (f"?{query}" if query else ""),
            body=json.dumps(body).encode() if body is not None else None,
            headers={"Accept": accept, "Content-Type": "application/merge-patch+json"
                     if method == "PATCH" else "application/json"})
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {resp.data[:400]!r}")
        return json.loads(resp.data)

    def collection(self, kind: str, namespace: str = "") -> str:
        base, namespaced = PATHS[kind]
        return f"{base}/namespaces/{namespace}/{kind}" if namespaced and namespace else (
            f"{base}/{kind}")

    def create(self, kind: str, obj: Obj, namespace: str = m.NAMESPACE) -> Obj:
        return self.call("POST", self.collection(kind, namespace), obj)

    def get(self, kind: str, name: str, namespace: str = m.NAMESPACE) -> Obj:
        return self.call("GET", f"{self.collection(kind, namespace)}/{name}")

    def items(self, kind: str, namespace: str = "", names: set[str] | None = None) -> list[Obj]:
        body = self.call("GET", self.collection(kind, namespace))
        items = [o for o in body["items"] if names is None or o["metadata"]["name"] in names]
        for obj in items:  # list items carry neither; kubectl fills them in the same way
            obj.setdefault("kind", KINDS[kind])
            obj.setdefault("apiVersion", body["apiVersion"])
        return items

    def table(self, kind: str, namespace: str = "", names: set[str] | None = None) -> Obj:
        before = time.time()
        body = self.call("GET", self.collection(kind, namespace), accept=TABLE)
        after = time.time()
        return {
            "columns": [c["name"] for c in body["columnDefinitions"]],
            "asked_at": [before, after],
            "rows": {row["object"]["metadata"]["name"]: row["cells"] for row in body["rows"]
                     if names is None or row["object"]["metadata"]["name"] in names},
        }


def wait(what: str, predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def add_nodes(cp) -> None:
    worker = {"node-role.kubernetes.io/worker": ""}
    cp.add_node(m.GPU_NODE, gpus=4, labels={
        **worker, "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}, internal_ip="198.51.100.20")
    cp.add_node(m.MIG_NODE, mig={"1g.10gb": 7}, labels={
        **worker, "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"})
    cp.add_node(m.CORDONED_NODE, labels={"kubernetes.io/role": "infra"})
    cp.add_node(m.DEAD_NODE, heartbeat=False)  # the node controller marks it NotReady


def set_status(api: Api, name: str, status: Obj, namespace: str = m.NAMESPACE) -> None:
    current = api.get("pods", name, namespace)
    current["status"] = status
    api.call("PUT", f"{api.collection('pods', namespace)}/{name}/status", current)


def create_objects(api: Api, cp) -> None:
    api.call("PATCH", f"/api/v1/nodes/{m.CORDONED_NODE}", {"spec": {"unschedulable": True}})
    for obj in m.SCHEDULED_PODS:
        api.create("pods", obj)
    for name, (obj, status, delete) in m.HAND_PODS.items():
        api.create("pods", obj)
        set_status(api, name, status)
        if delete:  # no kubelet confirms: it stays Terminating with its deletionTimestamp
            api.call("DELETE", f"{api.collection('pods', m.NAMESPACE)}/{name}")
    for kind, obj in m.WORKLOADS:
        api.create(kind, obj)
    for obj in m.SERVICES:
        api.create("services", obj)
    api.create("persistentvolumes", m.PERSISTENT_VOLUME, "")
    for obj in (*m.CLAIMS,):
        api.create("persistentvolumeclaims", obj)
    api.create("configmaps", m.CONFIGMAP)
    for obj in m.SECRETS:
        api.create("secrets", obj)
    cp.create_namespace(m.DOOMED_NAMESPACE)
    api.create("pods", m.pod("left-behind", node=m.GPU_NODE), m.DOOMED_NAMESPACE)
    api.call("DELETE", f"/api/v1/namespaces/{m.DOOMED_NAMESPACE}")


def owned_pods(api: Api, owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [p for p in api.items("pods", m.NAMESPACE)
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or ())]


def settle(api: Api) -> set[str]:
    """Let the controllers act; play the kubelet for one triton pod and the ``done`` job's
    pod (their statuses are written by hand, like HAND_PODS). Returns those pods' names."""
    wait("triton's pods", lambda: len(owned_pods(api, api.get("replicasets", _rs(api)))) == 2)
    wait("the done job's pod", lambda: owned_pods(api, api.get("jobs", "done")))
    rs_pods = sorted(owned_pods(api, api.get("replicasets", _rs(api))),
                     key=lambda p: p["metadata"]["name"])
    wait("triton's pods bound", lambda: all(
        api.get("pods", p["metadata"]["name"])["spec"].get("nodeName") for p in rs_pods))
    first = rs_pods[0]["metadata"]["name"]
    set_status(api, first, m.status("Running", m.running("triton"), ready=True, ip="10.244.1.9"))
    (job_pod,) = owned_pods(api, api.get("jobs", "done"))
    wait("done's pod bound", lambda: api.get("pods", job_pod["metadata"]["name"])["spec"].get(
        "nodeName"))
    set_status(api, job_pod["metadata"]["name"],
               m.status("Succeeded", m.terminated("done", 0, "Completed"), ip="10.244.1.10"))
    wait("triton 1/2 ready", lambda: api.get("deployments", "triton")["status"].get(
        "readyReplicas") == 1)
    wait("done completed", lambda: api.get("jobs", "done")["status"].get("completionTime"))
    wait("llm-0", lambda: api.get("pods", "llm-0"))
    wait("dcgm-exporter scheduled", lambda: api.get("daemonsets", "dcgm-exporter")[
        "status"].get("currentNumberScheduled", 0) >= 3)
    wait("models bound", lambda: api.get("persistentvolumeclaims", "models")["status"].get(
        "phase") == "Bound")
    wait("every-minute scheduled", lambda: api.get("cronjobs", "every-minute")["status"].get(
        "lastScheduleTime"), timeout=75)
    wait("dead-1 NotReady", lambda: any(
        c["type"] == "Ready" and c["status"] != "True"
        for c in api.get("nodes", m.DEAD_NODE, "")["status"]["conditions"]), timeout=90)
    wait("doomed Terminating", lambda: api.get("namespaces", m.DOOMED_NAMESPACE, "")[
        "status"]["phase"] == "Terminating")
    return {first, job_pod["metadata"]["name"]}


def _rs(api: Api) -> str:
    (rs,) = [r for r in api.items("replicasets", m.NAMESPACE)
             if r["metadata"]["name"].startswith("triton-")]
    return rs["metadata"]["name"]


def _write(name: str, items: list[Obj]) -> None:
    items = sorted(items, key=lambda o: (o["metadata"].get("namespace", ""),
                                         o["metadata"]["name"]))
    body = {"apiVersion": "v1", "kind": "List", "items": items}
    (FIXTURES / f"{name}.json").write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")


def record(api: Api, hand_written: set[str]) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Obj] = {}
    nodes = {m.GPU_NODE, m.MIG_NODE, m.CORDONED_NODE, m.DEAD_NODE}
    namespaces = {"default", m.NAMESPACE, m.DOOMED_NAMESPACE}
    secrets = {s["metadata"]["name"] for s in m.SECRETS}
    hand = set(m.HAND_PODS) | hand_written
    for kind in PATHS:
        names = nodes if kind == "nodes" else namespaces if kind == "namespaces" else (
            secrets if kind == "secrets" else None)
        namespace = "" if kind in ("nodes", "namespaces", "persistentvolumes") else m.NAMESPACE
        items = api.items(kind, namespace, names)
        tables[kind] = api.table(kind, namespace, names)
        if kind == "pods":
            _write("pods-status-by-hand", [p for p in items if p["metadata"]["name"] in hand])
            items = [p for p in items if p["metadata"]["name"] not in hand]
        _write(kind, items)
    doomed = api.items("pods", m.DOOMED_NAMESPACE)
    _write("pods-in-terminating-namespace", doomed)
    tables["pods-in-terminating-namespace"] = api.table("pods", m.DOOMED_NAMESPACE)
    node_events = [e for e in api.items("events", "default")
                   if e["involvedObject"].get("kind") == "Node"]
    _write("node-events", node_events)
    (FIXTURES / "tables.json").write_text(json.dumps(tables, indent=1, sort_keys=True) + "\n")


def main() -> int:
    from tests.cluster.controlplane import ControlPlane, find_binaries, missing_reason

    bin_dir = find_binaries()
    if bin_dir is None:
        print(f"no control plane to record from: {missing_reason()}", file=sys.stderr)
        return 2
    cp = ControlPlane(bin_dir).start(with_controllers=True)
    try:
        api = Api(cp.admin_client())
        add_nodes(cp)
        cp.create_namespace(m.NAMESPACE)
        create_objects(api, cp)
        hand_written = settle(api)
        record(api, hand_written)
    finally:
        cp.stop()
    print(f"recorded into {FIXTURES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
