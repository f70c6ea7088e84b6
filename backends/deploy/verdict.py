"""Is a model server deployment serving? One verdict from everything the cluster says.

Per replica (``replica.py``): pod phase, scheduling (with the scheduler's
``FailedScheduling`` message), container states and restarts, probe failures (the
kubelet's ``Unhealthy`` events), the Service's endpoints and Triton's own model-ready
answer. The deployment is Ready only when its rollout is done (``kubectl rollout status``
rules) and every replica it wants is Ready; never while a container crash-loops or keeps
restarting, a model failed to load, or a pod is missing from the endpoints. Failed is
terminal: waiting longer will not help (a crash loop, an image that cannot be pulled, no
node that fits for a minute, a model that failed to load, a passed progress deadline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlops_tui.backends.deploy.replica import ReplicaVerdict, replica_verdict
from mlops_tui.backends.deploy.shapes import d, items, text
from mlops_tui.backends.render import rollout

__all__ = ["ReplicaVerdict", "Verdict", "readiness_verdict"]

VerdictState = Literal["Ready", "Progressing", "Failed"]
SHOWN_PROBLEMS = 2  # the summary names this many pods, then counts the rest


@dataclass(frozen=True, slots=True)
class Verdict:
    """The deployment's state, a one-line summary, and one verdict per replica."""

    state: VerdictState
    summary: str
    replicas: tuple[ReplicaVerdict, ...]

    @property
    def ready(self) -> bool:
        return self.state == "Ready"

    @property
    def terminal(self) -> bool:
        """Failed: waiting longer will not make it serve."""
        return self.state == "Failed"


def _events_of(pod: dict[str, Any], events: list[Any]) -> list[dict[str, Any]]:
    meta = d(pod.get("metadata"))
    name, uid = meta.get("name"), meta.get("uid")
    out = []
    for event in events:
        involved = d(d(event).get("involvedObject"))
        if involved.get("name") != name or involved.get("kind", "Pod") != "Pod":
            continue
        if uid and involved.get("uid") and involved.get("uid") != uid:
            continue  # an earlier pod of the same name
        out.append(event)
    return out


def _aware(now: Any) -> dt.datetime:
    if not isinstance(now, dt.datetime):
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _problems(replicas: list[ReplicaVerdict]) -> str:
    shown = [f"pod {r.pod} {r.reason}".rstrip() for r in replicas[:SHOWN_PROBLEMS]]
    more = len(replicas) - SHOWN_PROBLEMS
    return "; ".join(shown) + (f"; {more} more" if more > 0 else "")


def _clean(deployment: dict[str, Any]) -> dict[str, Any]:
    """The parts the rollout rule reads, each of the shape it expects."""
    status = dict(d(deployment.get("status")))
    status["conditions"] = [c for c in items(status.get("conditions")) if isinstance(c, dict)]
    return {"metadata": d(deployment.get("metadata")), "spec": d(deployment.get("spec")),
            "status": status}


def _deployment_failure(deployment: dict[str, Any]) -> str | None:
    """A reason the Deployment itself cannot progress: its progress deadline passed, or
    its ReplicaSet cannot create pods (a quota, an admission webhook)."""
    status = rollout.deployment(deployment)
    if status.failed:
        return status.message
    for cond in items(d(deployment.get("status")).get("conditions")):
        if d(cond).get("type") == "ReplicaFailure" and d(cond).get("status") == "True":
            return f"ReplicaFailure: {text(cond.get('message')) or text(cond.get('reason'))}"
    return None


def readiness_verdict(deployment: dict[str, Any] | None, pods: list[dict[str, Any]],
                      events: list[dict[str, Any]], endpoints: dict[str, Any] | None,
                      model_ready: Mapping[str, bool | str | None], *,
                      now: dt.datetime) -> Verdict:
    """The deployment's verdict.

    Args:
        deployment: the Deployment as the server returns it; None when it does not exist.
        pods: its pods (those being deleted are not counted as replicas).
        events: events about the pods (others are ignored).
        endpoints: the Service's Endpoints object, or None.
        model_ready: Triton's answer per pod name: True, False (loading), a reason
            string (failed to load) or None (not asked yet).
        now: the time the objects were read (time zone aware; naive means UTC).

    Returns:
        The verdict; never raises, whatever shape the objects have.
    """
    now = _aware(now)
    live = [p for p in items(pods) if isinstance(p, dict)
            and not d(p.get("metadata")).get("deletionTimestamp")]
    events = [e for e in items(events) if isinstance(e, dict)]
    answers = model_ready if isinstance(model_ready, Mapping) else {}
    replicas = sorted((replica_verdict(p, _events_of(p, events), endpoints, answers, now)
                       for p in live), key=lambda r: r.pod)
    if not isinstance(deployment, dict):
        return Verdict("Progressing", "the deployment does not exist (yet)", tuple(replicas))
    deployment = _clean(deployment)
    wanted = d(deployment.get("spec")).get("replicas", 1)
    wanted = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) else 1
    ready = sum(r.state == "Ready" for r in replicas)
    head = f"{ready}/{wanted} Ready"
    failed = [r for r in replicas if r.state == "Failed"]
    stuck = _deployment_failure(deployment)
    if failed or stuck:
        parts = ([_problems(failed)] if failed else []) + ([stuck] if stuck else [])
        return Verdict("Failed", f"{head}: {'; '.join(parts)}", tuple(replicas))
    waiting = [r for r in replicas if r.state != "Ready"]
    if waiting:
        return Verdict("Progressing", f"{head}: {_problems(waiting)}", tuple(replicas))
    status = rollout.deployment(deployment)
    if ready < wanted:
        missing = wanted - ready
        return Verdict("Progressing", f"{head}: {missing} replica{'s' if missing != 1 else ''}"
                                      " without a pod yet", tuple(replicas))
    if not status.done:
        return Verdict("Progressing", f"{head}: {status.message}", tuple(replicas))
    return Verdict("Ready", f"{ready}/{wanted} replicas Ready", tuple(replicas))
