"""Pods: kubectl's STATUS logic, restarts, readiness and GPU requests."""

from __future__ import annotations

from mlops_tui.backends.models import Column, Row
from mlops_tui.backends.render._common import Obj, age_of, gpu_text, pod_gpu_request

COLUMNS = (
    Column("NAMESPACE"),
    Column("NAME"),
    Column("READY", numeric=True),
    Column("STATUS"),
    Column("RESTARTS", numeric=True),
    Column("GPU", numeric=True),
    Column("IP", wide_only=True),
    Column("NODE"),
    Column("AGE", numeric=True, age=True),
)

_BAD = {"CrashLoopBackOff", "Error", "ImagePullBackOff", "ErrImagePull", "OOMKilled",
        "CreateContainerConfigError", "InvalidImageName", "Failed", "Evicted", "Unknown",
        "ContainerStatusUnknown", "RunContainerError"}
_WAITING = {"Pending", "ContainerCreating", "PodInitializing", "Terminating", "NotReady"}


def pod_phase(obj: Obj) -> str:
    """The STATUS column as kubectl prints it (reason beats phase, containers beat pod)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    init_statuses = status.get("initContainerStatuses") or ()
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif wait and wait.get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_statuses)}"
        break
    else:
        running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                reason = term.get("reason") or (
                    f"Signal:{term['signal']}" if term.get("signal")
                    else f"ExitCode:{term.get('exitCode')}")
            elif state.get("running") and cs.get("ready"):
                running = True
        if running and reason == "Completed":
            reason = "Running"
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def render(obj: Obj, now: float) -> Row:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or ()
    total = len(spec.get("containers") or ()) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    phase = pod_phase(obj)
    gpus, mig = pod_gpu_request(spec)
    age, created = age_of(meta, now)
    if phase in _BAD or phase.startswith(("Init:Error", "Init:CrashLoop", "Signal:", "ExitCode:")):
        state = "error"
    elif phase in ("Running",) and ready == total:
        state = "ok"
    elif phase in ("Completed", "Succeeded"):
        state = "done"
    else:
        state = "warn"
    node = spec.get("nodeName") or ""
    cells = (
        meta.get("namespace", ""), meta["name"], f"{ready}/{total}", phase, str(restarts),
        gpu_text(gpus, mig) if gpus or mig else "", status.get("podIP") or "", node, age,
    )
    return Row(
        uid=meta["uid"], name=meta["name"], namespace=meta.get("namespace", ""), cells=cells,
        labels=meta.get("labels") or {},
        sort_keys=("", "", ready / total if total else 0, "", restarts,
                   gpus + sum(mig.values()), "", "", created),
        status=state,
    )
