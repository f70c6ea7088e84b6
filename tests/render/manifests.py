"""The objects the recorder creates on the real test apiserver, and the pod statuses it writes
by hand.

No kubelet runs on the test's fake nodes, so a pod there never leaves Pending by itself. The
states a kubelet would report (running, initializing, crash loops, exits, completion) are
written here by hand and PUT through the pods' ``status`` subresource: the API server
validates them, stores them, and its v1.20 printer (the code behind ``kubectl get``) prints
them like any other pod.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NAMESPACE = "ml"
DOOMED_NAMESPACE = "doomed"  # deleted while a pod holds it: stays Terminating
GPU_NODE, MIG_NODE, CORDONED_NODE, DEAD_NODE = "gpu-a100-1", "gpu-mig-1", "cpu-1", "dead-1"
IMAGE = "nvcr.io/nvidia/tritonserver:24.08-py3"
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def container(name: str, gpus: int = 0, cpu: str = "100m") -> Obj:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    return {"name": name, "image": IMAGE, "resources": {
        "requests": {"cpu": cpu, "memory": "64Mi", **limits}, "limits": limits}}


def pod(name: str, *containers: Obj, init: tuple[Obj, ...] = (), node: str = "",
        labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"containers": list(containers) or [container("main")]}
    if init:
        spec["initContainers"] = list(init)
    if node:
        spec["nodeName"] = node  # bound directly, as the hand-written statuses need
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


def template(app: str, gpus: int = 0) -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [container(app, gpus)]}}


# -- scheduled by the real scheduler: they stay Pending on a fake node ------------------------
SCHEDULED_PODS = (
    pod("pending-gpu", container("main", gpus=1)),
    pod("unschedulable", container("main", gpus=64)),  # more GPUs than any node has
    pod("with-init", container("main"), init=(container("fetch"), container("warm"))),
)


# -- container states a kubelet would write ----------------------------------------------------
def running(name: str, ready: bool = True, restarts: int = 0) -> Obj:
    return {"name": name, "image": IMAGE, "imageID": "", "ready": ready,
            "restartCount": restarts, "started": True,
            "containerID": f"containerd://{name}0", "state": {"running": {"startedAt": T1}}}


def waiting(name: str, reason: str, restarts: int = 0, last: Obj | None = None) -> Obj:
    out = {"name": name, "image": IMAGE, "imageID": "", "ready": False,
           "restartCount": restarts, "started": False,
           "state": {"waiting": {"reason": reason, "message": f"{reason} (written by hand)"}}}
    if last:
        out["lastState"] = {"terminated": last}
    return out


def terminated(name: str, code: int, reason: str = "", signal: int = 0,
               restarts: int = 0) -> Obj:
    term: Obj = {"exitCode": code, "startedAt": T0, "finishedAt": T1,
                 "containerID": f"containerd://{name}1"}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"name": name, "image": IMAGE, "imageID": "", "ready": False,
            "restartCount": restarts, "started": False, "state": {"terminated": term}}


def status(phase: str, *containers: Obj, init: tuple[Obj, ...] = (), ready: bool = False,
           reason: str = "", ip: str = "10.244.1.7") -> Obj:
    flag = "True" if ready else "False"
    out: Obj = {
        "phase": phase, "hostIP": "198.51.100.20", "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": T0, "qosClass": "Burstable",
        "conditions": [
            {"type": "Initialized", "status": "False" if init and phase == "Pending" else "True",
             "lastTransitionTime": T0},
            {"type": "Ready", "status": flag, "lastTransitionTime": T1},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": T1},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0},
        ],
        "containerStatuses": list(containers),
    }
    if init:
        out["initContainerStatuses"] = list(init)
    if reason:
        out["reason"], out["message"] = reason, f"{reason} (written by hand)"
    return out


MAIN, SIDE = container("main"), container("sidecar")
FETCH, WARM = container("fetch"), container("warm")
DONE_0 = terminated("fetch", 0, "Completed")

# name -> (pod, status written by hand, delete it afterwards)
HAND_PODS: dict[str, tuple[Obj, Obj, bool]] = {
    "running": (pod("running", MAIN, SIDE, node=GPU_NODE),
                status("Running", running("main"), running("sidecar", restarts=1), ready=True),
                False),
    "running-not-ready": (pod("running-not-ready", MAIN, SIDE, node=GPU_NODE),
                          status("Running", running("main"), running("sidecar", ready=False)),
                          False),
    "init-running": (pod("init-running", MAIN, init=(FETCH, WARM), node=GPU_NODE),
                     status("Pending", waiting("main", "PodInitializing"),
                            init=(DONE_0, running("warm", ready=False))), False),
    "init-waiting": (pod("init-waiting", MAIN, init=(FETCH,), node=GPU_NODE),
                     status("Pending", waiting("main", "PodInitializing"),
                            init=(waiting("fetch", "PodInitializing"),)), False),
    "init-crashloop": (pod("init-crashloop", MAIN, init=(FETCH, WARM), node=GPU_NODE),
                       status("Pending", waiting("main", "PodInitializing"), init=(
                           terminated("fetch", 0, "Completed", restarts=1),
                           waiting("warm", "CrashLoopBackOff", restarts=4,
                                   last=terminated("warm", 1, "Error")["state"]["terminated"]),
                       )), False),
    "init-error": (pod("init-error", MAIN, init=(FETCH,), node=GPU_NODE),
                   status("Pending", waiting("main", "PodInitializing"),
                          init=(terminated("fetch", 1, "Error", restarts=2),)), False),
    "init-signal": (pod("init-signal", MAIN, init=(FETCH,), node=GPU_NODE),
                    status("Pending", waiting("main", "PodInitializing"),
                           init=(terminated("fetch", 137, signal=9),)), False),
    "init-exitcode": (pod("init-exitcode", MAIN, init=(FETCH,), node=GPU_NODE),
                      status("Pending", waiting("main", "PodInitializing"),
                             init=(terminated("fetch", 3),)), False),
    "crashloop": (pod("crashloop", MAIN, init=(FETCH,), node=GPU_NODE),
                  status("Running", waiting("main", "CrashLoopBackOff", restarts=7,
                                            last=terminated("main", 1, "Error")["state"][
                                                "terminated"]),
                         init=(terminated("fetch", 0, "Completed", restarts=2),)), False),
    "image-pull": (pod("image-pull", MAIN, node=GPU_NODE),
                   status("Pending", waiting("main", "ImagePullBackOff")), False),
    "signal": (pod("signal", MAIN, node=GPU_NODE),
               status("Failed", terminated("main", 143, signal=15)), False),
    "exitcode": (pod("exitcode", MAIN, node=GPU_NODE),
                 status("Failed", terminated("main", 2)), False),
    "oomkilled": (pod("oomkilled", MAIN, node=GPU_NODE),
                  status("Running", terminated("main", 137, "OOMKilled", restarts=3)), False),
    "completed": (pod("completed", MAIN, node=GPU_NODE),
                  status("Succeeded", terminated("main", 0, "Completed")), False),
    "completed-sidecar-ready": (pod("completed-sidecar-ready", MAIN, SIDE, node=GPU_NODE),
                                status("Running", terminated("main", 0, "Completed"),
                                       running("sidecar"), ready=True), False),
    "completed-sidecar-not-ready": (
        pod("completed-sidecar-not-ready", MAIN, SIDE, node=GPU_NODE),
        status("Running", terminated("main", 0, "Completed"), running("sidecar")), False),
    "evicted": (pod("evicted", MAIN, node=GPU_NODE),
                status("Failed", reason="Evicted"), False),
    "terminating": (pod("terminating", MAIN, node=GPU_NODE),
                    status("Running", running("main"), ready=True), True),
    "node-lost": (pod("node-lost", MAIN, node=GPU_NODE),
                  status("Running", running("main"), ready=True, reason="NodeLost"), True),
}


# -- controllers, services, storage, config ---------------------------------------------------
def deployment(name: str, replicas: int, gpus: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": template(name, gpus)}}


WORKLOADS: tuple[tuple[str, Obj], ...] = (
    ("deployments", deployment("triton", 2, 1)),
    ("statefulsets", {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "llm"},
                      "spec": {"replicas": 1, "serviceName": "llm",
                               "selector": {"matchLabels": {"app": "llm"}},
                               "template": template("llm", 1)}}),
    ("daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": "dcgm-exporter"},
                    "spec": {"selector": {"matchLabels": {"app": "dcgm-exporter"}},
                             "template": template("dcgm-exporter")}}),
    ("jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train"},
              "spec": {"completions": 1, "template": {**template("train"), "spec": {
                  **template("train")["spec"], "restartPolicy": "Never"}}}}),
    ("jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "queue"},
              "spec": {"parallelism": 3, "template": {**template("queue"), "spec": {
                  **template("queue")["spec"], "restartPolicy": "Never"}}}}),
    ("jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "done"},
              "spec": {"completions": 1, "template": {**template("done"), "spec": {
                  **template("done")["spec"], "restartPolicy": "Never"}}}}),
    ("cronjobs", {"apiVersion": "batch/v1beta1", "kind": "CronJob",
                  "metadata": {"name": "nightly"},
                  "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {
                      "template": {**template("nightly"), "spec": {
                          **template("nightly")["spec"], "restartPolicy": "Never"}}}}}}),
    ("cronjobs", {"apiVersion": "batch/v1beta1", "kind": "CronJob",
                  "metadata": {"name": "every-minute"},
                  "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {
                      "template": {**template("tick"), "spec": {
                          **template("tick")["spec"], "restartPolicy": "Never"}}}}}}),
    ("cronjobs", {"apiVersion": "batch/v1beta1", "kind": "CronJob",
                  "metadata": {"name": "paused"},
                  "spec": {"schedule": "*/5 * * * *", "suspend": True, "jobTemplate": {
                      "spec": {"template": {**template("paused"), "spec": {
                          **template("paused")["spec"], "restartPolicy": "Never"}}}}}}),
)


def service(name: str, stype: str = "ClusterIP", **spec: Any) -> Obj:
    body: Obj = {"type": stype, "selector": {"app": "triton"},
                 "ports": [{"name": "http", "port": 8000, "targetPort": 8000},
                           {"name": "grpc", "port": 8001, "targetPort": 8001}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


SERVICES = (
    service("triton"),
    service("triton-np", "NodePort"),
    service("triton-lb", "LoadBalancer"),
    service("triton-ext-ip", externalIPs=["203.0.113.7"]),
    service("llm", clusterIP="None", selector={"app": "llm"}),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "models-bucket"},
     "spec": {"type": "ExternalName", "externalName": "models.example.com"}},
)

PERSISTENT_VOLUME = {
    "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-models"},
    "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
             "storageClassName": "", "hostPath": {"path": "/srv/models"}},
}


def claim(name: str, storage_class: str | None, annotations: dict | None = None,
          volume: str = "") -> Obj:
    spec: Obj = {"accessModes": ["ReadOnlyMany", "ReadWriteOnce"],
                 "resources": {"requests": {"storage": "10Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    if volume:
        spec["volumeName"] = volume
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


CLAIMS = (
    claim("models", "", volume="pv-models"),
    claim("scratch", "fast"),  # no such class and no provisioner: Pending
    claim("legacy", None, {"volume.beta.kubernetes.io/storage-class": "slow"}),
)

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "triton-config"},
             "data": {"config.pbtxt": "name: \"resnet50\"\nplatform: \"onnxruntime_onnx\"\n",
                      "log-level": "info"},
             "binaryData": {"labels.bin": "AAEC"}}

SECRETS = (
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"}, "type": "Opaque",
     "stringData": {"token": "hf_not-a-real-token", "user": "ml-bot"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry"},
     "type": "kubernetes.io/dockerconfigjson",
     "stringData": {".dockerconfigjson": "{\"auths\": {}}"}},
)
