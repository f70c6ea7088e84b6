"""A pod's life in the simulated cluster: the scheduler and the kubelet.

``schedule`` filters nodes as kube-scheduler does (cordon, taints, node selector, GPU and MIG
capacity) and bin-packs GPU pods; a pod that fits nowhere stays Pending with the scheduler's
own message. The kubelet half moves a pod through ContainerCreating, Running, a crash loop,
Succeeded or Terminating, with the events a real kubelet records.
"""

from __future__ import annotations

import copy
import hashlib
import json
import weakref
from collections import Counter

from mlops_tui.backends.demo.objects import iso, owner_ref
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.render._common import (
    GPU_RESOURCE,
    MIG_PREFIX,
    Obj,
    condition,
    pod_gpu_request,
    quantity,
)

TERMINATED = ("Succeeded", "Failed")
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
DS_TOLERATIONS = tuple({"key": k, "operator": "Exists", "effect": e} for k, e in (
    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoSchedule"), (UNSCHEDULABLE_TAINT, "NoSchedule")))
START_TICKS, STOP_TICKS, CRASH_PERIOD = 3, 2, 6


# -- small queries --------------------------------------------------------------------------
def active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in TERMINATED


def deleting(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def pod_ready(pod: Obj) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return bool(statuses) and all(cs.get("ready") for cs in statuses)


def node_ready(node: Obj) -> bool:
    return condition(node.get("status") or {}, "Ready") == "True"


def extended(pod: Obj) -> Counter[str]:
    """GPUs and MIG slices a pod asks for, by resource name."""
    out: Counter[str] = Counter()
    for cont in pod["spec"].get("containers") or ():
        res = cont.get("resources") or {}
        for key, val in (res.get("limits") or res.get("requests") or {}).items():
            if key == GPU_RESOURCE or key.startswith(MIG_PREFIX):
                out[key] += int(quantity(val))
    return out


def _node_of(pod: Obj) -> tuple[str, ...]:
    node = pod["spec"].get("nodeName")
    return (node,) if node else ()


def _gpu_node_of(pod: Obj) -> tuple[str, ...]:
    """The node of a pod that holds GPUs or MIG slices there (what capacity checks sum)."""
    return _node_of(pod) if active(pod) and extended(pod) else ()


def _pending(pod: Obj) -> tuple[bool, ...]:
    return (True,) if not pod["spec"].get("nodeName") and active(pod) and not deleting(pod) \
        else ()


def pods_on(world: World, node: str) -> list[Obj]:
    """Every pod bound to ``node``, in creation order."""
    return world.in_creation_order(world.indexed("pods", "node", _node_of, node).values())


def gpu_pods_on(world: World, node: str) -> list[Obj]:
    """The active pods on ``node`` that ask for GPUs or MIG slices."""
    return list(world.indexed("pods", "gpu-node", _gpu_node_of, node).values())


def pending_pods(world: World) -> list[Obj]:
    """Active pods no node was found for yet, in creation order."""
    return world.in_creation_order(world.indexed("pods", "pending", _pending, True).values())


def gpu_requested(world: World, node: str) -> int:
    """Whole GPUs plus MIG slices asked for by the non-terminated pods on ``node``."""
    total = 0
    for pod in gpu_pods_on(world, node):
        gpus, mig = pod_gpu_request(pod["spec"])
        total += gpus + sum(mig.values())
    return total


def template_hash(tpl: Obj) -> str:
    return World.stable_hash(json.dumps(tpl, sort_keys=True))


# -- scheduler ------------------------------------------------------------------------------
def _tolerates(pod: Obj, taint: Obj) -> bool:
    for tol in pod["spec"].get("tolerations") or ():
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint["key"]):
            return True
        if tol.get("key") == taint["key"] and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def unfit(world: World, pod: Obj, node: Obj) -> str:
    """Why ``pod`` cannot run on ``node``, in the scheduler's words; "" when it can."""
    unsched = {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    if node["spec"].get("unschedulable") and not _tolerates(pod, unsched):
        return "node(s) were unschedulable"
    for taint in node["spec"].get("taints") or ():
        if taint["key"] != UNSCHEDULABLE_TAINT and taint["effect"] != "PreferNoSchedule" \
                and not _tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
        return "node(s) didn't match Pod's node affinity/selector"
    want = extended(pod)
    if want:
        used: Counter[str] = Counter()
        for other in gpu_pods_on(world, node["metadata"]["name"]):
            if other is not pod:
                used += extended(other)
        alloc = node["status"].get("allocatable") or {}
        for key, n in sorted(want.items()):
            if used[key] + n > quantity(alloc.get(key)):
                return f"Insufficient {key}"
    return ""


def schedule(world: World, pod: Obj) -> tuple[Obj | None, str]:
    """The node for ``pod`` (GPU pods bin-pack) or None and the FailedScheduling message."""
    nodes = sorted(world.list("nodes"), key=lambda n: n["metadata"]["name"])
    fits, reasons = [], Counter()
    for node in nodes:
        why = unfit(world, pod, node)
        if why:
            reasons[why] += 1
        else:
            fits.append(node)
    if fits:
        want = extended(pod)

        def score(node: Obj) -> tuple[float, str]:
            name = node["metadata"]["name"]
            if not want:
                return len(world.indexed("pods", "node", _node_of, name)), name
            alloc = node["status"]["allocatable"]
            return sum(quantity(alloc.get(k)) for k in want) - gpu_requested(world, name), name
        return min(fits, key=score), ""
    detail = ", ".join(sorted(f"{n} {why}" for why, n in reasons.items()))
    return None, (f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} "
                  f"nodes are available: {len(nodes)} Preemption is not helpful for scheduling.")


# -- a pod's life ---------------------------------------------------------------------------
def _cond(kind: str, ok: bool, t: str, reason: str = "", message: str = "") -> Obj:
    out = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": t}
    return out | ({"reason": reason} if reason else {}) | ({"message": message} if message else {})


def _pod_conditions(t: str, ready: bool, why: str = "ContainersNotReady") -> list[Obj]:
    return [_cond("PodReadyToStartContainers", True, t), _cond("Initialized", True, t),
            _cond("Ready", ready, t, "" if ready else why),
            _cond("ContainersReady", ready, t, "" if ready else why),
            _cond("PodScheduled", True, t)]


def _container_status(world: World, cont: Obj, state: Obj, ready: bool, restarts: int = 0,
                      last: Obj | None = None) -> Obj:
    repo = cont["image"].rsplit(":", 1)[0]
    return {"name": cont["name"], "image": cont["image"],
            "imageID": f"{repo}@sha256:{hashlib.sha256(cont['image'].encode()).hexdigest()}",
            "containerID": f"containerd://{world.rng.getrandbits(256):064x}",
            "ready": ready, "started": "running" in state, "restartCount": restarts,
            "state": state, "lastState": last or {}}


def make_pod(world: World, owner: Obj, tpl: Obj, name: str, node: str = "") -> Obj:
    meta = {"name": name, "namespace": owner["metadata"]["namespace"],
            "labels": dict(tpl["metadata"].get("labels") or {}),
            "ownerReferences": [owner_ref(owner)]}
    if tpl["metadata"].get("annotations"):
        meta["annotations"] = dict(tpl["metadata"]["annotations"])
    spec = copy.deepcopy(tpl["spec"])
    if owner["kind"] == "DaemonSet":
        spec["tolerations"] = [*spec.get("tolerations", ()), *map(dict, DS_TOLERATIONS)]
    guaranteed = all((c["resources"].get("requests") or {}) == c["resources"].get("limits")
                     for c in spec["containers"])
    pod = world.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                "spec": spec, "status": {"phase": "Pending", "qosClass":
                                                         "Guaranteed" if guaranteed else
                                                         "Burstable"}})
    if node:
        bind(world, pod, world.get("nodes", "", node))
    else:
        place(world, pod, quiet=False)
    return pod


class _Unschedulable:
    """kube-scheduler's unschedulable queue: a pod that fit nowhere is tried again once the
    cluster changed in a way that can make room (a node changed; a pod bound to a node went
    or finished), not on every pass, so thousands of pending replicas cost nothing while
    nothing changes."""

    def __init__(self) -> None:
        self.version = 0  # bumped by each change that can make room
        self.tried: dict[str, int] = {}  # pending pod uid -> version of its last failed try
        self.passed: tuple[int, int] = (-1, -1)  # (version, pending count) of the last pass

    def seen(self, kind: str, obj: Obj, deleted: bool) -> None:
        if kind == "nodes" or (kind == "pods" and obj["spec"].get("nodeName")
                               and (deleted or not active(obj))):
            self.version += 1
        if kind == "pods" and deleted:
            self.tried.pop(obj["metadata"]["uid"], None)

    def due(self, pod: Obj) -> bool:
        return self.tried.get(pod["metadata"]["uid"], -1) < self.version


_QUEUES: weakref.WeakKeyDictionary[World, _Unschedulable] = weakref.WeakKeyDictionary()


def _queue(world: World) -> _Unschedulable:
    queue = _QUEUES.get(world)
    if queue is None:
        queue = _QUEUES[world] = _Unschedulable()
        world.add_listener(queue.seen)
    return queue


def retry_unschedulable(world: World, loud: int = 0) -> None:
    """Try the pending pods again: quietly those the cluster changed for since their last
    try; with ``loud``, that many more of the oldest, recording FailedScheduling again as
    the scheduler's periodic flush does."""
    queue = _queue(world)
    bucket = world.indexed("pods", "pending", _pending, True)
    if (queue.version, len(bucket)) != queue.passed:  # else nothing changed for any of them
        due = [p for p in bucket.values() if queue.due(p)]
        for pod in world.in_creation_order(due):
            place(world, pod, quiet=True)
        queue.passed = (queue.version, len(bucket))
    if loud:
        for pod in pending_pods(world)[:loud]:
            place(world, pod, quiet=False)


def place(world: World, pod: Obj, quiet: bool) -> bool:
    """Try to schedule a pending pod; on failure record why (unless ``quiet``)."""
    queue = _queue(world)
    node, message = schedule(world, pod)
    if node is not None:
        queue.tried.pop(pod["metadata"]["uid"], None)
        bind(world, pod, node)
        return True
    queue.tried[pod["metadata"]["uid"]] = queue.version
    now = iso(world.time())
    status = {"phase": "Pending", "qosClass": pod["status"].get("qosClass", "Burstable"),
              "conditions": [_cond("PodScheduled", False, now, "Unschedulable", message)]}
    if pod["status"].get("conditions"):
        status["conditions"][0]["lastTransitionTime"] = pod["status"]["conditions"][0][
            "lastTransitionTime"]
    world.set_status("pods", pod, status)
    if not quiet:
        world.event(pod, "Warning", "FailedScheduling", message, component="default-scheduler")
    return False


def bind(world: World, pod: Obj, node: Obj | None) -> None:
    name = node["metadata"]["name"] if node else ""
    pod["spec"]["nodeName"] = name
    meta = pod["metadata"]
    world.event(pod, "Normal", "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to {name}",
                component="default-scheduler")
    now = iso(world.time())
    pod["status"] = {
        "phase": "Pending", "qosClass": pod["status"].get("qosClass", "Burstable"),
        "hostIP": (node or {}).get("status", {}).get("addresses", [{}])[0].get("address", ""),
        "startTime": now, "conditions": _pod_conditions(now, False),
        "containerStatuses": [_container_status(
            world, c, {"waiting": {"reason": "ContainerCreating"}}, False)
            for c in pod["spec"]["containers"]]}
    world.update("pods", pod)
    if world.instant:
        start(world, pod)
    else:
        world.starting[meta["uid"]] = world.ticks + START_TICKS


def start(world: World, pod: Obj) -> None:
    """The kubelet started the containers (or, for a faulty app, the first crash)."""
    world.starting.pop(pod["metadata"]["uid"], None)
    if deleting(pod):
        return
    node = world.get("nodes", "", pod["spec"]["nodeName"])
    ready = node is not None and node_ready(node)
    now = iso(world.time())
    index = int(node["spec"]["podCIDR"].split(".")[2]) if node else 0
    host = node["metadata"]["name"] if node else ""
    world.ip_next[host] = world.ip_next.get(host, 1) % 250 + 1  # 2..251, reused like IPAM
    ip = f"10.244.{index}.{world.ip_next[host] + 1}"
    status = pod["status"]
    status |= {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
               "conditions": _pod_conditions(now, ready)}
    status["containerStatuses"] = [_container_status(
        world, c, {"running": {"startedAt": now}}, ready) for c in pod["spec"]["containers"]]
    world.update("pods", pod)
    for cont in pod["spec"]["containers"]:
        for reason, text in (("Pulled", (f'Container image "{cont["image"]}" already present '
                                        "on machine")),
                             ("Created", f"Created container {cont['name']}"),
                             ("Started", f"Started container {cont['name']}")):
            world.event(pod, "Normal", reason, text, host=host)
    labels = pod["metadata"].get("labels") or {}
    if world.faults.get((pod["metadata"]["namespace"], labels.get("app", ""))) == "crash":
        crash(world, pod)


def crash(world: World, pod: Obj, restarts: int | None = None, backoffs: int = 1,
          since: float | None = None) -> None:
    """The main container exited with an error; the kubelet backs off before the next try."""
    cs = pod["status"]["containerStatuses"][0]
    count = cs["restartCount"] + 1 if restarts is None else restarts
    meta, now = pod["metadata"], iso(world.time())
    started = (cs["state"].get("running") or {}).get("startedAt") or iso(world.time() - 3)
    back = min(10 * 2 ** max(count - 1, 0), 300)
    cs |= {"ready": False, "started": False, "restartCount": count, "state": {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": f"back-off {back // 60}m{back % 60}s restarting failed container="
                   f"{cs['name']} pod={meta['name']}_{meta['namespace']}({meta['uid']})"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started,
                                     "finishedAt": now, "containerID": cs["containerID"]}}}
    pod["status"]["conditions"] = _pod_conditions(now, False)
    world.update("pods", pod)
    world.event(pod, "Warning", "BackOff",
                f"Back-off restarting failed container {cs['name']} in pod "
                f"{meta['name']}_{meta['namespace']}({meta['uid']})",
                host=pod["spec"].get("nodeName", ""), count=backoffs, first=since)


def restart_container(world: World, pod: Obj) -> None:
    """The back-off ran out: the container runs again (and will crash again)."""
    cs = pod["status"]["containerStatuses"][0]
    cs |= {"started": True, "state": {"running": {"startedAt": iso(world.time())}}}
    world.update("pods", pod)


def complete(world: World, pod: Obj, took: float = 0.0) -> None:
    """Every container exited 0: the pod Succeeded."""
    now, started = iso(world.time()), iso(world.time() - took)
    pod["status"] |= {"phase": "Succeeded",
                      "conditions": _pod_conditions(now, False, "PodCompleted")}
    for cs in pod["status"].get("containerStatuses") or ():
        cs |= {"ready": False, "started": False, "state": {"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now}}}
    world.update("pods", pod)


def delete_pod(world: World, pod: Obj, force: bool = False) -> None:
    """Graceful delete: Terminating for a moment, then gone (at once when frozen/forced)."""
    meta = pod["metadata"]
    if force or world.instant or not pod["spec"].get("nodeName") or not active(pod):
        world.remove("pods", pod)
        return
    if deleting(pod):
        return
    meta["deletionTimestamp"] = iso(world.time() + 30)
    meta["deletionGracePeriodSeconds"] = 30
    world.update("pods", pod)
    world.terminating[meta["uid"]] = world.ticks + STOP_TICKS
    for cont in pod["spec"]["containers"]:
        world.event(pod, "Normal", "Killing", f"Stopping container {cont['name']}",
                    host=pod["spec"]["nodeName"])
