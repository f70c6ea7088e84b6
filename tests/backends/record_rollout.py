"""Record Deployments, StatefulSets and DaemonSets from the real test apiserver in the states
a rollout passes through, into tests/fixtures/rollout/ (for tests/backends/test_rollout_rules.py).

Run it after changing what it records (about a minute; it starts a control plane of its own
on free loopback ports and stops it by PID)::

    .venv/bin/python -m tests.backends.record_rollout

Every status in the files is the real controllers' work: objects created before the
controllers start show "not observed yet"; pods reported Ready by tests/backends/pod_ready.py
(the kubelet's part, the one hand-made piece) move rollouts forward; a 1 s progress deadline
passes for real. Each file is one object as the server returned it, without managedFields.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.backends.pod_ready import mark_ready
from tests.cluster.controlplane import ControlPlane, find_binaries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"
NAMESPACE = "rollout"
Obj = dict[str, Any]
PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def workload(kind: str, name: str, replicas: int | None = 2, image: str = "img:1",
             **spec: Any) -> Obj:
    labels = {"app": name}
    body: Obj = {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "main", "image": image}]}}, **spec}
    if replicas is not None:
        body["replicas"] = replicas
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": body}


class Recorder:
    """Raw JSON requests as admin: the server's own bytes, not a client's re-serialization."""

    def __init__(self, cp: ControlPlane) -> None:
        self.api = cp.admin_client()
        self._pool = self.api.rest_client.pool_manager
        self._host = self.api.configuration.host
        FIXTURES.mkdir(parents=True, exist_ok=True)

    def call(self, method: str, path: str, body: Obj | None = None) -> Obj:
        content_type = "application/merge-patch+json" if method == "PATCH" else (
            "application/json")
        resp = self._pool.request(method, self._host + path, headers={
            "Accept": "application/json", "Content-Type": content_type},
            body=json.dumps(body).encode() if body is not None else None)
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {resp.data[:400]!r}")
        return json.loads(resp.data)

    def path(self, kind: str, name: str = "") -> str:
        base = f"/apis/apps/v1/namespaces/{NAMESPACE}/{PLURAL[kind]}"
        return f"{base}/{name}" if name else base

    def create(self, obj: Obj) -> None:
        self.call("POST", self.path(obj["kind"]), obj)

    def get(self, kind: str, name: str) -> Obj:
        obj = self.call("GET", self.path(kind, name))
        obj["metadata"].pop("managedFields", None)
        return obj

    def patch(self, kind: str, name: str, body: Obj) -> None:
        self.call("PATCH", self.path(kind, name), body)

    def save(self, file: str, kind: str, name: str) -> Obj:
        obj = self.get(kind, name)
        (FIXTURES / file).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
        print(f"{file}: {json.dumps(obj.get('status') or {})[:150]}")
        return obj

    def until(self, what: str, kind: str, name: str, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.get(kind, name)
            if predicate(obj.get("status") or {}, obj):
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {kind} {name}: {what}")

    def ready_until(self, kind: str, name: str, predicate, step: int = 0,
                    timeout: float = 60.0) -> None:
        """Report pods Ready (``step`` at a time) until ``predicate(status)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.get(kind, name)
            if predicate(obj.get("status") or {}, obj):
                return
            mark_ready(self.api, NAMESPACE, f"app={name}", step)
            time.sleep(0.5)
        raise RuntimeError(f"timed out making {kind} {name} ready")


def observed(status: Obj, obj: Obj) -> bool:
    return status.get("observedGeneration", 0) >= obj["metadata"]["generation"]


def record(cp: ControlPlane) -> None:
    cp.create_namespace(NAMESPACE, wait_service_account=False)
    r = Recorder(cp)
    # before any controller runs: the spec update is not observed yet
    for kind in PLURAL:
        r.create(workload(kind, f"unobserved-{kind.lower()}"))
        r.save(f"{kind.lower()}-unobserved.json", kind, f"unobserved-{kind.lower()}")
    cp.start_controllers()
    cp.add_node("node-a", gpus=1)
    cp.add_node("node-b", gpus=1)

    # Deployment: pods scheduled but never available; then complete; then mid-rollout
    r.create(workload("Deployment", "web", replicas=4, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    r.until("4 replicas", "Deployment", "web",
            lambda s, o: observed(s, o) and s.get("updatedReplicas") == 4)
    r.save("deployment-unavailable.json", "Deployment", "web")
    r.ready_until("Deployment", "web", lambda s, o: s.get("availableReplicas") == 4)
    r.save("deployment-complete.json", "Deployment", "web")
    r.patch("Deployment", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "img:2"}]}}}})
    r.until("a new ReplicaSet", "Deployment", "web",
            lambda s, o: observed(s, o) and s.get("updatedReplicas", 0) >= 1)
    r.save("deployment-updating.json", "Deployment", "web")
    # one new pod Ready at a time: the old ReplicaSet shrinks as the new one grows, until
    # all 4 new pods exist while the last old one still runs
    r.ready_until("Deployment", "web", lambda s, o: s.get("updatedReplicas") == 4
                  and s.get("replicas", 0) > 4, step=1)
    r.save("deployment-old-pending.json", "Deployment", "web")
    r.create(workload("Deployment", "stuck", replicas=1, progressDeadlineSeconds=1))
    r.until("ProgressDeadlineExceeded", "Deployment", "stuck", lambda s, o: any(
        c.get("reason") == "ProgressDeadlineExceeded" for c in s.get("conditions") or ()))
    r.save("deployment-deadline-exceeded.json", "Deployment", "stuck")

    # StatefulSet: ordered start (one pod at a time), complete, partitioned, OnDelete
    r.create(workload("StatefulSet", "db"))
    r.until("first pod", "StatefulSet", "db", lambda s, o: observed(s, o)
            and s.get("replicas") == 1)
    r.save("statefulset-starting.json", "StatefulSet", "db")
    r.ready_until("StatefulSet", "db", lambda s, o: s.get("readyReplicas") == 2)
    r.save("statefulset-complete.json", "StatefulSet", "db")
    r.patch("StatefulSet", "db", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "img:2"}]}}}})
    r.until("new revision", "StatefulSet", "db", lambda s, o: observed(s, o)
            and s.get("updateRevision") != s.get("currentRevision"))
    r.save("statefulset-updating.json", "StatefulSet", "db")
    r.create(workload("StatefulSet", "sharded", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    r.ready_until("StatefulSet", "sharded", lambda s, o: s.get("readyReplicas") == 2)
    r.patch("StatefulSet", "sharded", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "img:2"}]}}}})
    r.until("partition observed", "StatefulSet", "sharded", lambda s, o: observed(s, o)
            and s.get("updateRevision") != s.get("currentRevision"))
    r.save("statefulset-partitioned.json", "StatefulSet", "sharded")
    r.create(workload("StatefulSet", "manual", replicas=1, updateStrategy={"type": "OnDelete"}))
    r.until("observed", "StatefulSet", "manual", observed)
    r.save("statefulset-ondelete.json", "StatefulSet", "manual")

    # DaemonSet: one pod per node, none available; complete; OnDelete
    r.create(workload("DaemonSet", "agent", replicas=None))
    r.until("2 scheduled", "DaemonSet", "agent", lambda s, o: observed(s, o)
            and s.get("desiredNumberScheduled") == 2 and s.get("updatedNumberScheduled") == 2)
    r.save("daemonset-unavailable.json", "DaemonSet", "agent")
    r.ready_until("DaemonSet", "agent", lambda s, o: s.get("numberAvailable") == 2)
    r.save("daemonset-complete.json", "DaemonSet", "agent")
    r.create(workload("DaemonSet", "manual-agent", replicas=None,
                      updateStrategy={"type": "OnDelete"}))
    r.until("observed", "DaemonSet", "manual-agent", observed)
    r.save("daemonset-ondelete.json", "DaemonSet", "manual-agent")


def main() -> int:
    bin_dir = find_binaries()
    if bin_dir is None:
        print("no kube-apiserver binaries: run ./install.sh --dev first", file=sys.stderr)
        return 2
    cp = ControlPlane(bin_dir).start(with_controllers=False)
    try:
        record(cp)
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
