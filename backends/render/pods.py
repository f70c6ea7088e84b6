"""Pods: READY, STATUS and RESTARTS exactly as kubectl 1.20 prints them, plus GPU requests.

The rules are those of ``printPod`` in Kubernetes v1.20's
``pkg/printers/internalversion/printers.go``, the printer ``kubectl get pods`` shows (the API
server runs it for server-side printing). Where this file and that function disagree, that
function is right.
"""

from __future__ import annotations

from typing import NamedTuple

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

# the reason a node controller gives pods of a node it lost (node.NodeUnreachablePodReason)
NODE_LOST = "NodeLost"

_BAD = {"CrashLoopBackOff", "Error", "ImagePullBackOff", "ErrImagePull", "OOMKilled",
        "CreateContainerConfigError", "InvalidImageName", "Failed", "Evicted", "Unknown",
        "ContainerStatusUnknown", "RunContainerError"}


class PodSummary(NamedTuple):
    """The three cells kubectl computes together in one pass over the container statuses."""

    ready: int
    total: int
    status: str
    restarts: int


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    """A terminated container's reason; without one, its signal, else its exit code."""
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _init_status(status: Obj, init_count: int) -> tuple[str | None, int]:
    """(STATUS while initializing or None once every init container succeeded, restarts).

    Restarts add up over the init containers looked at: those that exited 0 and the first
    one that did not (kubectl stops there).
    """
    restarts = 0
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if term is not None:
            return _terminated_reason(term, "Init:"), restarts
        if wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            return "Init:" + wait["reason"], restarts
        return f"Init:{i}/{init_count}", restarts
    return None, restarts


def _ready_condition(status: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or ())


def pod_summary(obj: Obj) -> PodSummary:
    """READY, STATUS and RESTARTS of ``kubectl get pods`` (Kubernetes v1.20 rules)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    total = len(spec.get("containers") or ())
    reason = status.get("reason") or status.get("phase") or ""
    ready = 0
    init_reason, restarts = _init_status(status, len(spec.get("initContainers") or ()))
    if init_reason is not None:
        reason = init_reason
    else:
        restarts, has_running = 0, False
        # the last container with something to say wins, as kubectl walks them backwards
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += int(cs.get("restartCount") or 0)
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # a pod whose only news is a completed container is still running the others
        if reason == "Completed" and has_running:
            reason = "Running" if _ready_condition(status) else "NotReady"
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == NODE_LOST else "Terminating"
    return PodSummary(ready, total, reason, restarts)


def pod_phase(obj: Obj) -> str:
    """The STATUS column of ``kubectl get pods``."""
    return pod_summary(obj).status


def pod_ip(status: Obj) -> str:
    """The first of the pod's IPs (kubectl reads ``podIPs``), or ``<none>``."""
    ips = status.get("podIPs") or ()
    return (ips[0].get("ip") if ips else status.get("podIP")) or "<none>"


def _colour(summary: PodSummary) -> str:
    phase = summary.status
    cause = phase.removeprefix("Init:")  # an init container's trouble is the pod's
    if cause in _BAD or cause.startswith(("Signal:", "ExitCode:")):
        return "error"
    if phase == "Running" and summary.ready == summary.total:
        return "ok"
    if phase in ("Completed", "Succeeded"):
        return "done"
    return "warn"


def render(obj: Obj, now: float) -> Row:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    summary = pod_summary(obj)
    gpus, mig = pod_gpu_request(spec)
    age, created = age_of(meta, now)
    cells = (
        meta.get("namespace", ""), meta["name"], f"{summary.ready}/{summary.total}",
        summary.status, str(summary.restarts), gpu_text(gpus, mig) if gpus or mig else "",
        pod_ip(status), spec.get("nodeName") or "<none>", age,
    )
    return Row(
        uid=meta["uid"], name=meta["name"], namespace=meta.get("namespace", ""), cells=cells,
        labels=meta.get("labels") or {},
        sort_keys=("", "", summary.ready / summary.total if summary.total else 0, "",
                   summary.restarts, gpus + sum(mig.values()), "", "", created),
        status=_colour(summary),
    )
