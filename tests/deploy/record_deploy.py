"""Record what a 1.20 apiserver says about model server deployments, into
tests/fixtures/deploy/ (for tests/deploy/test_verdict.py and test_rollback.py).

Run it after changing what it records (about a minute; it starts a control plane of its own
on free loopback ports and stops it by PID)::

    .venv/bin/python -m tests.deploy.record_deploy

The Deployments, Services and ConfigMaps are the project's own manifests
(``build_manifests``), created on the real server; scheduling (and the scheduler's
FailedScheduling event), ReplicaSets, revisions, Deployment status and Endpoints are the
real controllers' work. No kubelet runs here, so its part is played by hand through the
same API a kubelet uses: the pod status it would report (Running, Ready, a crash loop, an
image that cannot be pulled) and the events it would post (Unhealthy, BackOff). Each file
is one scenario: ``{"deployment", "pods", "events", "endpoints"}`` or, for rollbacks,
``{"deployment", "replica_sets"}``, as the server returned them, without managedFields.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_tui.backends.deploy.manifests import ClusterFeatures, build_manifests
from mlops_tui.backends.deploy.spec import DeploySpec
from tests.cluster.controlplane import ControlPlane, find_binaries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy"
NAMESPACE = "serve"
FILES = {"simple/config.pbtxt": b'name: "simple"\nbackend: "python"\nmax_batch_size: 8\n',
         "simple/1/model.py": b"import triton_python_backend_utils as pb_utils\n"}
Obj = dict[str, Any]
PLURALS = {"Deployment": "/apis/apps/v1", "ReplicaSet": "/apis/apps/v1",
           "Pod": "/api/v1", "Event": "/api/v1", "Endpoints": "/api/v1",
           "Service": "/api/v1", "ConfigMap": "/api/v1"}
NAMES = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Pod": "pods",
         "Event": "events", "Endpoints": "endpoints", "Service": "services",
         "ConfigMap": "configmaps"}


def stamp(ago_s: float = 0) -> str:
    return datetime.fromtimestamp(time.time() - ago_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    """Raw JSON requests as admin: the server's own bytes, not a client's re-serialization."""

    def __init__(self, cp: ControlPlane) -> None:
        api = cp.admin_client()
        self._pool = api.rest_client.pool_manager
        self._host = api.configuration.host
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
        base = f"{PLURALS[kind]}/namespaces/{NAMESPACE}/{NAMES[kind]}"
        return f"{base}/{name}" if name else base

    def apply(self, spec: DeploySpec) -> None:
        for obj in build_manifests(spec, ClusterFeatures(), repository_files=FILES):
            self.call("POST", self.path(obj["kind"]), obj)

    def get(self, kind: str, name: str) -> Obj:
        return clean(self.call("GET", self.path(kind, name)))

    def list(self, kind: str) -> list[Obj]:
        return [clean(o) for o in self.call("GET", self.path(kind))["items"]]

    def pods(self, app: str) -> list[Obj]:
        return sorted((p for p in self.list("Pod")
                       if p["metadata"]["labels"].get("app.kubernetes.io/name") == app),
                      key=lambda p: p["metadata"]["name"])

    def until(self, what: str, check, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what}")

    def kubelet_status(self, pod: Obj, status: Obj) -> None:
        self.call("PATCH", self.path("Pod", pod["metadata"]["name"]) + "/status",
                  {"status": status})

    def kubelet_event(self, pod: Obj, reason: str, message: str, count: int = 1,
                      first_ago: float = 60, kind: str = "Warning") -> None:
        meta = pod["metadata"]
        self.call("POST", self.path("Event"), {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": NAMESPACE},
            "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": "v1",
                               "fieldPath": "spec.containers{tritonserver}"},
            "reason": reason, "message": message, "type": kind, "count": count,
            "source": {"component": "kubelet", "host": pod["spec"].get("nodeName", "")},
            "firstTimestamp": stamp(first_ago), "lastTimestamp": stamp(1)})

    def scenario(self, file: str, app: str) -> None:
        pods = self.pods(app)
        names = {p["metadata"]["name"] for p in pods}
        events = [e for e in self.list("Event") if e["involvedObject"].get("name") in names]
        try:
            endpoints = self.get("Endpoints", app)
        except RuntimeError:
            endpoints = None
        data = {"deployment": self.get("Deployment", app), "pods": pods, "events": events,
                "endpoints": endpoints}
        save(file, data)


def clean(obj: Obj) -> Obj:
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def save(file: str, data: Obj) -> None:
    (FIXTURES / file).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{file}: {len(json.dumps(data))} bytes")


def running(pod: Obj, ip: str, *, ready: bool, container: Obj | None = None) -> Obj:
    """The status a kubelet reports for a pod whose init container copied the models."""
    now, started = stamp(), stamp(120)
    ready_text = "True" if ready else "False"
    conditions = [{"type": "Initialized", "status": "True", "lastTransitionTime": started},
                  {"type": "Ready", "status": ready_text, "lastTransitionTime": now},
                  {"type": "ContainersReady", "status": ready_text, "lastTransitionTime": now},
                  {"type": "PodScheduled", "status": "True", "lastTransitionTime": started}]
    if not ready:
        for cond in conditions[1:3]:
            cond.update(reason="ContainersNotReady",
                        message="containers with unready status: [tritonserver]")
    spec = pod["spec"]
    init = [{"name": c["name"], "image": c["image"], "imageID": "", "ready": True,
             "restartCount": 0, "state": {"terminated": {
                 "exitCode": 0, "reason": "Completed", "startedAt": started,
                 "finishedAt": started}}} for c in spec.get("initContainers", ())]
    main = {"name": "tritonserver", "image": spec["containers"][0]["image"], "imageID": "",
            "ready": ready, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": started}}, **(container or {})}
    return {"phase": "Running", "conditions": conditions, "initContainerStatuses": init,
            "containerStatuses": [main], "startTime": started, "hostIP": "192.0.2.10",
            "podIP": ip, "podIPs": [{"ip": ip}], "qosClass": "BestEffort"}


def record(cp: ControlPlane) -> None:
    cp.create_namespace(NAMESPACE, wait_service_account=False)
    cp.add_node("cpu-a")
    cp.add_node("cpu-b")
    cp.add_node("gpu-a", gpus=1)
    r = Recorder(cp)
    base = {"namespace": NAMESPACE, "model_repository": "./models", "cpu": "1",
            "memory": "2Gi"}

    # no node has two GPUs: the real scheduler refuses, with its real event
    r.apply(DeploySpec(name="big", gpus=2, **base))
    r.until("FailedScheduling", lambda: [e for e in r.list("Event")
                                        if e.get("reason") == "FailedScheduling"])
    r.until("PodScheduled False", lambda: [p for p in r.pods("big")
                                          if p["status"].get("conditions")])
    r.scenario("unschedulable.json", "big")

    # two replicas: one serving, one crash-looping (Triton exits: the model failed to load)
    r.apply(DeploySpec(name="resnet", replicas=2, **base))
    pods = r.until("2 bound pods", lambda: len([p for p in r.pods("resnet")
                                               if p["spec"].get("nodeName")]) == 2
                   and r.pods("resnet"))
    r.kubelet_status(pods[0], running(pods[0], "10.250.0.11", ready=True))
    r.kubelet_status(pods[1], running(pods[1], "10.250.0.12", ready=False, container={
        "started": False, "restartCount": 5,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message":
                              "back-off 2m40s restarting failed container=tritonserver pod="
                              f"{pods[1]['metadata']['name']}_{NAMESPACE}"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "startedAt": stamp(50), "finishedAt": stamp(45)}}}))
    r.kubelet_event(pods[1], "BackOff", "Back-off restarting failed container", count=12)
    r.until("endpoints split", lambda: any(
        s.get("notReadyAddresses") and s.get("addresses")
        for s in r.get("Endpoints", "resnet").get("subsets") or ()))
    r.scenario("crashloop.json", "resnet")
    # then the second one serves too: both in the endpoints, the rollout complete
    r.kubelet_status(pods[1], running(pods[1], "10.250.0.12", ready=True))
    r.until("available", lambda: r.get("Deployment", "resnet")["status"].get(
        "availableReplicas") == 2 and len((r.get("Endpoints", "resnet").get("subsets")
                                           or [{}])[0].get("addresses") or ()) == 2)
    r.scenario("ready.json", "resnet")

    # running, but the readiness probe fails (the model still loads)
    r.apply(DeploySpec(name="slow", **base))
    [pod] = r.until("bound pod", lambda: [p for p in r.pods("slow") if p["spec"].get("nodeName")])
    r.kubelet_status(pod, running(pod, "10.250.0.13", ready=False))
    r.kubelet_event(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                    "statuscode: 400", count=7)
    r.until("not-ready endpoint", lambda: (r.get("Endpoints", "slow").get("subsets") or [{}])[0]
            .get("notReadyAddresses"))
    r.scenario("probe-failing.json", "slow")

    # an image that does not exist
    r.apply(DeploySpec(name="typo", image="nvcr.io/nvidia/tritonserver:24.10-py9", **base))
    [pod] = r.until("bound pod", lambda: [p for p in r.pods("typo") if p["spec"].get("nodeName")])
    status = running(pod, "10.250.0.14", ready=False, container={
        "started": False, "state": {"waiting": {
            "reason": "ImagePullBackOff",
            "message": 'Back-off pulling image "nvcr.io/nvidia/tritonserver:24.10-py9"'}}})
    status["phase"] = "Pending"
    r.kubelet_status(pod, status)
    r.kubelet_event(pod, "Failed", 'Failed to pull image "nvcr.io/nvidia/tritonserver:'
                    '24.10-py9": rpc error: code = NotFound desc = failed to pull and unpack '
                    "image: not found", count=4)
    r.scenario("image-pull.json", "typo")

    # three revisions of one deployment: the ReplicaSets the controller keeps as history
    r.apply(DeploySpec(name="hist", image="nvcr.io/nvidia/tritonserver:24.08-py3", **base))
    for number, tag in ((2, "24.09-py3"), (3, "24.10-py3")):
        r.until(f"revision {number - 1}", lambda n=number: len(
            [s for s in r.list("ReplicaSet") if s["metadata"]["name"].startswith("hist-")])
            == n - 1)
        r.call("PATCH", r.path("Deployment", "hist"), {"spec": {"template": {"spec": {
            "containers": [{"name": "tritonserver",
                            "image": f"nvcr.io/nvidia/tritonserver:{tag}"}]}}}})
    r.until("3 replica sets", lambda: len(
        [s for s in r.list("ReplicaSet") if s["metadata"]["name"].startswith("hist-")]) == 3)
    r.until("revision 3 observed", lambda: (lambda d: d["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "3" and d["status"].get("observedGeneration")
        == d["metadata"]["generation"])(r.get("Deployment", "hist")))
    save("rollback.json", {"deployment": r.get("Deployment", "hist"),
                           "replica_sets": r.list("ReplicaSet")})


def main() -> int:
    bin_dir = find_binaries()
    if bin_dir is None:
        print("no kube-apiserver binaries: run ./install.sh --dev first", file=sys.stderr)
        return 2
    cp = ControlPlane(bin_dir).start(with_controllers=True)
    try:
        record(cp)
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
