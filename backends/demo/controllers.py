"""The controller manager of the simulated cluster, and its clock tick.

``reconcile`` runs every workload controller once (deployments make replicasets;
replicasets, statefulsets, daemonsets and jobs make or remove pods), retries pending pods
and rewrites each workload's status from its pods. ``tick`` is one second of life: pods
finish starting or terminating, a crash-looping container restarts, a pod is now and then
replaced, and old events expire. Every change goes through the world one object at a time.
"""

from __future__ import annotations

import copy

from mlops_tui.backends.demo import pods as kubelet
from mlops_tui.backends.demo.objects import iso, replicaset
from mlops_tui.backends.demo.pods import active, deleting, pod_ready
from mlops_tui.backends.demo.world import EVENT_CAP, World
from mlops_tui.backends.render._common import Obj, parse_time

FAILED_SCHEDULING_PERIOD, PRUNE_PERIOD, REPLACE_CHANCE = 10, 60, 1 / 30
# Pending pods told "FailedScheduling" again per period: the oldest; a bound, so thousands
# of pending replicas do not cost thousands of scheduling passes every few seconds.
LOUD_RETRIES = 50
# Pods a controller creates or deletes per pass (kube-controller-manager's burstReplicas):
# scaling to thousands ramps up over a few ticks instead of stopping the world (and the UI
# thread that asked for the scale) for seconds.
BURST_REPLICAS = 250


def _app_of(pod: Obj) -> tuple[tuple[str, str], ...]:
    """(namespace, app label): what a fault is set on."""
    meta = pod["metadata"]
    return ((meta["namespace"], (meta.get("labels") or {}).get("app", "")),)


def _live_owners(pod: Obj) -> list[str]:
    if not active(pod) or deleting(pod):
        return []
    return [r.get("uid") for r in pod["metadata"].get("ownerReferences") or ()]


def _ready_owners(pod: Obj) -> list[str]:
    return _live_owners(pod) if pod_ready(pod) else []


def _live(world: World, owner: Obj) -> list[Obj]:
    """Pods of ``owner`` that count: not finished, not terminating (creation order)."""
    return list(world.indexed("pods", "live-owner", _live_owners,
                              owner["metadata"]["uid"]).values())


def _ready(world: World, owner: Obj) -> int:
    """How many of ``owner``'s live pods are ready (counted by an index, not a scan)."""
    return len(world.indexed("pods", "ready-owner", _ready_owners, owner["metadata"]["uid"]))


def _deployment(world: World, dep: Obj) -> None:
    meta, spec = dep["metadata"], dep["spec"]
    want = int(spec.get("replicas", 1))
    tpl_hash = kubelet.template_hash(spec["template"])
    sets = world.owned_by("replicasets", meta["uid"])
    current = next((rs for rs in sets if rs["metadata"]["labels"].get("pod-template-hash")
                    == tpl_hash), None)
    if current is None:
        revision = 1 + max((int(rs["metadata"]["annotations"].get(
            "deployment.kubernetes.io/revision", 0)) for rs in sets), default=0)
        tpl = copy.deepcopy(spec["template"])
        tpl["metadata"]["labels"]["pod-template-hash"] = tpl_hash
        name = f"{meta['name']}-{tpl_hash}"
        current = world.create("replicasets", replicaset(dep, name, tpl, 0, revision))
        sets.append(current)
        meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(revision)
        world.update("deployments", dep)
    for rs in sets:
        target = want if rs is current else 0
        old = int(rs["spec"].get("replicas", 0))
        if old != target:
            rs["spec"]["replicas"] = target
            rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(want)
            world.update("replicasets", rs, spec_changed=True)
            verb = "up" if target > old else "down"
            world.event(dep, "Normal", "ScalingReplicaSet",
                        f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to "
                        f"{target}", component="deployment-controller")


def _replicaset(world: World, rs: Obj) -> None:
    pods = _live(world, rs)
    diff = int(rs["spec"].get("replicas", 0)) - len(pods)
    for _ in range(min(diff, BURST_REPLICAS)):
        kubelet.make_pod(world, rs, rs["spec"]["template"],
                         f"{rs['metadata']['name']}-{world.suffix()}")
    if diff >= 0:
        return
    # like the real controller: unscheduled first, then not ready, then the newest
    doomed = sorted(pods, key=lambda p: (bool(p["spec"].get("nodeName")), pod_ready(p),
                                         -parse_time(p["metadata"]["creationTimestamp"])))
    for pod in doomed[:min(-diff, BURST_REPLICAS)]:
        kubelet.delete_pod(world, pod)


def _statefulset(world: World, sts: Obj) -> None:
    meta = sts["metadata"]
    want = int(sts["spec"].get("replicas", 1))
    live = _live(world, sts)
    have = {p["metadata"]["name"] for p in live}
    made = 0
    for i in range(want):
        name = f"{meta['name']}-{i}"
        if made >= BURST_REPLICAS:
            break
        if name not in have and world.get("pods", meta["namespace"], name) is None:
            tpl = copy.deepcopy(sts["spec"]["template"])
            tpl["metadata"]["labels"] |= {"statefulset.kubernetes.io/pod-name": name,
                                          "apps.kubernetes.io/pod-index": str(i)}
            kubelet.make_pod(world, sts, tpl, name)
            made += 1
    extra = [p for p in live if int(p["metadata"]["name"].rsplit("-", 1)[1]) >= want]
    for pod in extra[:BURST_REPLICAS]:
        kubelet.delete_pod(world, pod)


def _eligible(world: World, ds: Obj) -> list[str]:
    probe = {"spec": {**ds["spec"]["template"]["spec"], "tolerations": [
        *ds["spec"]["template"]["spec"].get("tolerations", ()), *kubelet.DS_TOLERATIONS]},
        "metadata": {}}
    return sorted(n["metadata"]["name"] for n in world.list("nodes")
                  if not kubelet.unfit(world, probe, n))


def _daemonset(world: World, ds: Obj) -> None:
    nodes = _eligible(world, ds)
    pods = _live(world, ds)
    have = {p["spec"].get("nodeName") for p in pods}
    for node in nodes:
        if node not in have:
            kubelet.make_pod(world, ds, ds["spec"]["template"],
                             f"{ds['metadata']['name']}-{world.suffix()}", node=node)
    for pod in pods:
        if pod["spec"].get("nodeName") not in nodes:
            kubelet.delete_pod(world, pod)


def _job(world: World, job: Obj) -> None:
    pods = world.owned_by("pods", job["metadata"]["uid"])
    done = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
    if max(done, int((job.get("status") or {}).get("succeeded") or 0)) >= int(
            job["spec"].get("completions", 1)):
        return
    if not _live(world, job):
        tpl = copy.deepcopy(job["spec"]["template"])
        name = job["metadata"]["name"]
        tpl["metadata"]["labels"] |= {"job-name": name, "batch.kubernetes.io/job-name": name,
                                      "controller-uid": job["metadata"]["uid"]}
        kubelet.make_pod(world, job, tpl, f"{name}-{world.suffix()}")


def _keep_times(old: Obj, new: Obj) -> Obj:
    """Keep a condition's transition time while its status does not change."""
    before = {c["type"]: c for c in old.get("conditions") or ()}
    for cond in new.get("conditions") or ():
        prev = before.get(cond["type"])
        if prev and prev.get("status") == cond["status"]:
            cond["lastTransitionTime"] = prev.get("lastTransitionTime")
            if "lastUpdateTime" in cond:
                cond["lastUpdateTime"] = prev.get("lastUpdateTime")
    return new


def _statuses(world: World) -> None:
    now = iso(world.time())
    counts: dict[str, tuple[int, int]] = {}
    for rs in world.list("replicasets"):
        live = len(world.indexed("pods", "live-owner", _live_owners, rs["metadata"]["uid"]))
        ready = _ready(world, rs)
        counts[rs["metadata"]["uid"]] = (live, ready)
        world.set_status("replicasets", rs, {
            "replicas": live, "fullyLabeledReplicas": live, "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]})
    for dep in world.list("deployments"):
        want = int(dep["spec"].get("replicas", 1))
        sets = world.owned_by("replicasets", dep["metadata"]["uid"])
        total = sum(counts.get(rs["metadata"]["uid"], (0, 0))[0] for rs in sets)
        ready = sum(counts.get(rs["metadata"]["uid"], (0, 0))[1] for rs in sets)
        tpl_hash = kubelet.template_hash(dep["spec"]["template"])  # once, not once per set
        current = [rs for rs in sets if rs["metadata"]["labels"].get("pod-template-hash")
                   == tpl_hash]
        updated = sum(counts.get(rs["metadata"]["uid"], (0, 0))[0] for rs in current)
        ok = ready >= want
        status = {"observedGeneration": dep["metadata"]["generation"], "replicas": total,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(want - ready, 0), "conditions": [
                      {"type": "Available", "status": "True" if ok else "False",
                       "reason": "MinimumReplicasAvailable" if ok else
                       "MinimumReplicasUnavailable",
                       "message": "Deployment has minimum availability." if ok else
                       "Deployment does not have minimum availability.",
                       "lastTransitionTime": now, "lastUpdateTime": now},
                      {"type": "Progressing", "status": "True",
                       "reason": "NewReplicaSetAvailable",
                       "message": f'ReplicaSet "{dep["metadata"]["name"]}" has successfully '
                                  "progressed.", "lastTransitionTime": now,
                       "lastUpdateTime": now}]}
        world.set_status("deployments", dep, _keep_times(dep.get("status") or {}, status))
    for sts in world.list("statefulsets"):
        pods = _live(world, sts)
        ready = _ready(world, sts)
        rev = f"{sts['metadata']['name']}-{kubelet.template_hash(sts['spec']['template'])}"
        world.set_status("statefulsets", sts, {
            "observedGeneration": sts["metadata"]["generation"], "replicas": len(pods),
            "readyReplicas": ready, "currentReplicas": len(pods), "updatedReplicas": len(pods),
            "availableReplicas": ready, "currentRevision": rev, "updateRevision": rev})
    for ds in world.list("daemonsets"):
        pods, want = _live(world, ds), len(_eligible(world, ds))
        ready = _ready(world, ds)
        world.set_status("daemonsets", ds, {
            "desiredNumberScheduled": want, "currentNumberScheduled": len(pods),
            "numberReady": ready, "updatedNumberScheduled": len(pods),
            "numberAvailable": ready, "numberUnavailable": max(want - ready, 0),
            "numberMisscheduled": 0, "observedGeneration": ds["metadata"]["generation"]})
    for job in world.list("jobs"):
        _job_status(world, job, now)


def _job_status(world: World, job: Obj, now: str) -> None:
    old = job.get("status") or {}
    pods = world.owned_by("pods", job["metadata"]["uid"])
    done = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
    running = sum(1 for p in pods if active(p) and not deleting(p))
    status: Obj = {"startTime": old.get("startTime") or job["metadata"]["creationTimestamp"],
                   "succeeded": max(done, int(old.get("succeeded") or 0)), "active": running,
                   "ready": sum(map(pod_ready, pods)), "uncountedTerminatedPods": {}}
    if status["succeeded"] >= int(job["spec"].get("completions", 1)):
        finished = old.get("completionTime") or max(
            (cs["state"]["terminated"]["finishedAt"] for p in pods
             for cs in p["status"].get("containerStatuses") or ()
             if "terminated" in cs["state"]), default=now)
        status |= {"completionTime": finished, "conditions": [
            {"type": "Complete", "status": "True", "lastProbeTime": finished,
             "lastTransitionTime": finished}]}
    world.set_status("jobs", job, status)


# Each workload controller with the kind it acts on, in the order one pass runs them (a
# deployment's new replicaset gets its pods in the same pass).
_CONTROLLERS = (("deployments", _deployment), ("replicasets", _replicaset),
                ("statefulsets", _statefulset), ("daemonsets", _daemonset), ("jobs", _job))
# The kinds whose creation can give a pass something to do: the workloads, the nodes that
# daemonsets and the scheduler place pods on, and pods. Creating anything else (a service,
# a secret) leaves a settled world settled.
WATCHED_KINDS = frozenset({kind for kind, _ in _CONTROLLERS} | {"nodes", "pods"})


def reconcile(world: World) -> None:
    """Run every controller once and retry the pods still waiting for a node."""
    with world.lock:
        for kind, control in _CONTROLLERS:
            for obj in world.list(kind):
                control(world, obj)
        kubelet.retry_unschedulable(world)
        _statuses(world)


def cordon(world: World, node: Obj, unschedulable: bool) -> None:
    spec = node["spec"]
    if bool(spec.get("unschedulable")) == unschedulable:
        return
    taints = [t for t in spec.get("taints") or () if t["key"] != kubelet.UNSCHEDULABLE_TAINT]
    if unschedulable:
        spec["unschedulable"] = True
        taints.append({"key": kubelet.UNSCHEDULABLE_TAINT, "effect": "NoSchedule",
                       "timeAdded": iso(world.time())})
    else:
        spec.pop("unschedulable", None)
    spec["taints"] = taints
    if not taints:
        spec.pop("taints")
    world.update("nodes", node)
    world.event(node, "Normal", "NodeNotSchedulable" if unschedulable else "NodeSchedulable",
                f"Node {node['metadata']['name']} status is now: "
                f"{'NodeNotSchedulable' if unschedulable else 'NodeSchedulable'}",
                component="kubelet", host=node["metadata"]["name"])


def tick(world: World) -> None:
    """One second of cluster life."""
    with world.lock:
        world.ticks += 1
        n = world.ticks
        for uid, due in sorted(world.terminating.items()):
            if due <= n and (pod := world.by_uid("pods", uid)) is not None:
                world.remove("pods", pod)
        for uid, due in sorted(world.starting.items()):
            if due <= n and (pod := world.by_uid("pods", uid)) is not None:
                kubelet.start(world, pod)
        crashing = [pod for app, fault in world.faults.items() if fault == "crash"
                    for pod in world.indexed("pods", "app", _app_of, app).values()]
        for pod in world.in_creation_order(crashing):
            if pod["status"].get("phase") != "Running" or deleting(pod):
                continue
            state = pod["status"]["containerStatuses"][0]["state"]
            if n % kubelet.CRASH_PERIOD == 0 and "waiting" in state:
                kubelet.restart_container(world, pod)
            elif n % kubelet.CRASH_PERIOD == 1 and "running" in state:
                kubelet.crash(world, pod)
        if n % FAILED_SCHEDULING_PERIOD == 0:
            kubelet.retry_unschedulable(world, loud=LOUD_RETRIES)
        if world.rng.random() < REPLACE_CHANCE:
            _replace_one(world)
        if n % PRUNE_PERIOD == 0 or world.count("events") > 2 * EVENT_CAP:
            world.prune_events()  # a big scale makes events fast: prune as they come
        reconcile(world)


def _replace_one(world: World) -> None:
    """Now and then a healthy pod of a deployment goes away and its replicaset replaces it."""
    candidates = sorted(
        (p for p in world.list("pods") if pod_ready(p) and not deleting(p)
         and any(r["kind"] == "ReplicaSet" for r in p["metadata"].get("ownerReferences", ()))),
        key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
    if candidates:
        kubelet.delete_pod(world, world.rng.choice(candidates))
