"""When is a rollout done, and when is an object ready (pure: object in, status out).

The rollout rules follow ``kubectl rollout status`` (``polymorphichelpers/rollout_status.go``
in the Kubernetes tree) word for word where they can, since users compare against it. The
kind table (``backends/kinds.py``) says which rule a kind has; a kind without one has no
rollout to wait for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from mlops_tui.backends.render._common import Obj

ROLLING_UPDATE = "RollingUpdate"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


class Status(NamedTuple):
    """Where a wait stands: ``done``, still waiting (``message`` says on what), or
    ``failed`` (it can never finish by waiting: a progress deadline passed)."""

    done: bool
    message: str
    failed: bool = False


RolloutRule = Callable[[Obj], Status]


def _parts(obj: Obj) -> tuple[Obj, Obj, Obj]:
    return obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _condition(status: Obj, kind: str) -> Obj | None:
    return next((c for c in status.get("conditions") or () if isinstance(c, dict)
                 and c.get("type") == kind), None)


def deployment(obj: Obj) -> Status:
    meta, spec, status = _parts(obj)
    name = meta.get("name", "")
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return Status(False, "Waiting for deployment spec update to be observed...")
    progressing = _condition(status, "Progressing")
    if progressing and progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return Status(False, f'deployment "{name}" exceeded its progress deadline', True)
    wanted = spec.get("replicas")
    updated = _int(status.get("updatedReplicas"))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if isinstance(wanted, int) and updated < wanted:
        return Status(False, f"{waiting}{updated} out of {wanted} new replicas have been "
                             "updated...")
    total = _int(status.get("replicas"))
    if total > updated:
        return Status(False, f"{waiting}{total - updated} old replicas are pending "
                             "termination...")
    available = _int(status.get("availableReplicas"))
    if available < updated:
        return Status(False, f"{waiting}{available} of {updated} updated replicas are "
                             "available...")
    return Status(True, f'deployment "{name}" successfully rolled out')


def _strategy(spec: Obj) -> Obj:
    return spec.get("updateStrategy") or {}


def _not_rolling(strategy: Obj) -> Status | None:
    kind = strategy.get("type") or ROLLING_UPDATE  # the API's default
    if kind != ROLLING_UPDATE:
        return Status(False, "rollout status is only available for RollingUpdate strategy "
                             f"type, not {kind}", True)
    return None


def statefulset(obj: Obj) -> Status:
    meta, spec, status = _parts(obj)
    strategy = _strategy(spec)
    refused = _not_rolling(strategy)
    if refused:
        return refused
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(meta.get("generation")) > observed:
        return Status(False, "Waiting for statefulset spec update to be observed...")
    wanted = spec.get("replicas")
    ready = _int(status.get("readyReplicas"))
    if isinstance(wanted, int) and ready < wanted:
        return Status(False, f"Waiting for {wanted - ready} pods to be ready...")
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict):
        partition = rolling.get("partition")
        updated = _int(status.get("updatedReplicas"))
        if isinstance(wanted, int) and isinstance(partition, int) \
                and updated < wanted - partition:
            return Status(False, "Waiting for partitioned roll out to finish: "
                                 f"{updated} out of {wanted - partition} new pods have been "
                                 "updated...")
        return Status(True, f"partitioned roll out complete: {updated} new pods have been "
                            "updated...")
    revision = status.get("updateRevision", "")
    if revision != status.get("currentRevision", ""):
        return Status(False, "waiting for statefulset rolling update to complete "
                             f"{_int(status.get('updatedReplicas'))} pods at revision "
                             f"{revision}...")
    return Status(True, "statefulset rolling update complete "
                        f"{_int(status.get('currentReplicas'))} pods at revision "
                        f"{status.get('currentRevision', '')}...")


def daemonset(obj: Obj) -> Status:
    meta, spec, status = _parts(obj)
    name = meta.get("name", "")
    refused = _not_rolling(_strategy(spec))
    if refused:
        return refused
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return Status(False, "Waiting for daemon set spec update to be observed...")
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return Status(False, f"{waiting}{updated} out of {desired} new pods have been "
                             "updated...")
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return Status(False, f"{waiting}{available} of {desired} updated pods are "
                             "available...")
    return Status(True, f'daemon set "{name}" successfully rolled out')


def ready(obj: Obj) -> Status:
    """Ready as users mean it, read from the object's shape so custom resources work too:
    a ``Ready`` condition (pods, nodes, InferenceServices) decides; else replica counts
    (``readyReplicas`` of ``spec.replicas``; a DaemonSet's ``numberReady`` of
    ``desiredNumberScheduled``), once the controller has seen the current spec. With
    neither, it is not ready (yet)."""
    _, spec, status = _parts(obj)
    condition = _condition(status, "Ready")
    if condition is not None:
        if condition.get("status") == "True":
            return Status(True, "Ready")
        why = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
        return Status(False, f"Ready={condition.get('status', 'Unknown')}"
                             + (f" ({why})" if why else ""))
    meta = obj.get("metadata") or {}
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return Status(False, "waiting for the spec update to be observed")
    if isinstance(spec.get("replicas"), int):
        wanted, have = spec["replicas"], _int(status.get("readyReplicas"))
    elif "desiredNumberScheduled" in status:
        wanted, have = _int(status["desiredNumberScheduled"]), _int(status.get("numberReady"))
    else:
        return Status(False, "no Ready condition yet")
    return Status(have >= wanted, f"{have}/{wanted} replicas ready")
