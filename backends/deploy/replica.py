"""One replica of a model server: is it serving, starting, waiting for a node, or failed?

Pure and defensive: pods, events and endpoints arrive as the server sent them, and any
field may be missing or of the wrong type; a wrong shape reads as "not known yet", never
as an exception. Server text (event messages, container reasons) is folded into one line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlops_tui.backends.deploy.shapes import d, event_time, items, number, parse_time, text

ReplicaState = Literal["Ready", "Starting", "Failed", "Pending"]
# a container waiting for one of these will not start by waiting longer
FAILING_WAITS = frozenset({
    "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
    "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError",
    "RunContainerError",
})
UNSCHEDULABLE_GRACE_S = 60  # a node may still be joining; after this, no node fits
RESTART_WINDOW_S = 600  # the kubelet's back-off tops out at 5 min: restarts this recent climb
CRASH_RESTARTS = 3  # this many restarts, the last one recent: it is crash-looping
NOT_STARTED = "starting (the startup probe has not passed yet)"
NOT_READY = "not ready"


@dataclass(frozen=True, slots=True)
class ReplicaVerdict:
    """One pod's state and why (one line, empty when it serves)."""

    pod: str
    state: ReplicaState
    reason: str


def _since(earlier: dt.datetime | None, now: dt.datetime) -> float | None:
    return (now - earlier).total_seconds() if earlier else None


def latest_event(events: list[dict[str, Any]], reason: str) -> dict[str, Any] | None:
    """The most recent event with ``reason`` (events arrive pre-filtered to one pod)."""
    found = [e for e in events if e.get("reason") == reason]
    stamp = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(found, key=lambda e: event_time(e) or stamp) if found else None


def _restarts(status: dict[str, Any]) -> str:
    count = number(status.get("restartCount")) or 0
    last = d(d(status.get("lastState")).get("terminated"))
    parts = []
    why = text(last.get("reason"))
    if why and why not in ("Error", "Completed"):
        parts.append(why)
    if number(last.get("exitCode")) is not None:
        parts.append(f"exit {last['exitCode']}")
    parts.append(f"{count} restart{'s' if count != 1 else ''}")
    return ", ".join(parts)


def container_problem(status: dict[str, Any], now: dt.datetime
                      ) -> tuple[ReplicaState, str] | None:
    """(Failed or Starting, why) for a container that is not serving, or None."""
    state = d(status.get("state"))
    waiting, terminated = d(state.get("waiting")), d(state.get("terminated"))
    count = number(status.get("restartCount")) or 0
    reason = text(waiting.get("reason"))
    if reason == "CrashLoopBackOff":
        return "Failed", f"CrashLoopBackOff ({_restarts(status)})"
    if reason in FAILING_WAITS:
        message = text(waiting.get("message"))
        return "Failed", f"{reason}: {message}" if message else reason
    if reason:
        return "Starting", reason
    if state.get("terminated") is not None:
        code = number(terminated.get("exitCode"))
        why = text(terminated.get("reason")) or "Terminated"
        return ("Failed" if count >= CRASH_RESTARTS else "Starting",
                f"{why} (exit {code if code is not None else '?'}, {count} restart"
                f"{'s' if count != 1 else ''})")
    last_end = parse_time(d(d(status.get("lastState")).get("terminated")).get("finishedAt"))
    ago = _since(last_end, now)
    if count and ago is not None and ago < RESTART_WINDOW_S:
        return ("Failed" if count >= CRASH_RESTARTS else "Starting",
                f"restarting ({_restarts(status)}, the last {int(max(ago, 0))}s ago)")
    if state.get("running") is None:
        return "Starting", "container not started"
    if status.get("started") is False:
        return "Starting", NOT_STARTED
    if status.get("ready") is not True:
        return "Starting", NOT_READY
    return None


def _statuses(pod_status: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [s for s in items(pod_status.get(field)) if isinstance(s, dict)]


def containers_problem(pod: dict[str, Any], now: dt.datetime
                       ) -> tuple[ReplicaState, str] | None:
    """The worst problem among the pod's init and regular containers, or None."""
    status = d(pod.get("status"))
    found: list[tuple[ReplicaState, str]] = []
    for init in _statuses(status, "initContainerStatuses"):
        done = d(d(init.get("state")).get("terminated")).get("exitCode") == 0
        problem = None if done else container_problem(init, now)
        if problem:
            found.append((problem[0], f"init container {text(init.get('name'))}: "
                                      f"{problem[1]}"))
    regular = _statuses(status, "containerStatuses")
    for container in regular:
        problem = container_problem(container, now)
        if problem:
            prefix = f"{text(container.get('name'))}: " if len(regular) > 1 else ""
            found.append((problem[0], prefix + problem[1]))
    if not regular and not found:
        found.append(("Starting", "containers not created yet"))
    failed = [p for p in found if p[0] == "Failed"]
    return (failed or found or [None])[0]


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The pod's condition of type ``kind``, or None."""
    return next((c for c in items(d(pod.get("status")).get("conditions"))
                 if isinstance(c, dict) and c.get("type") == kind), None)


def schedule_problem(pod: dict[str, Any], events: list[dict[str, Any]], now: dt.datetime
                     ) -> tuple[ReplicaState, str] | None:
    """(Pending or Failed, why) for a pod no node has taken, or None once it has one."""
    scheduled = condition(pod, "PodScheduled")
    if d(pod.get("spec")).get("nodeName") or (scheduled and scheduled.get("status") == "True"):
        return None
    if scheduled is None and d(pod.get("status")).get("phase") not in (None, "Pending"):
        return None
    event = latest_event(events, "FailedScheduling")
    message = text(d(event).get("message")) or text(d(scheduled).get("message"))
    if event is None and d(scheduled).get("reason") != "Unschedulable":
        return "Pending", message or "waiting for a node"
    # the scheduler's event can come before the pod's condition: either says no node fits
    since = parse_time(d(scheduled).get("lastTransitionTime")) or parse_time(
        d(pod.get("metadata")).get("creationTimestamp"))
    waited = _since(since, now)
    late = waited is not None and waited >= UNSCHEDULABLE_GRACE_S
    return ("Failed" if late else "Pending",
            f"Unschedulable: {message}" if message else "Unschedulable")


def endpoint_problem(pod: dict[str, Any], endpoints: Any) -> str | None:
    """Why the Service does not send traffic to the pod yet, or None when it does."""
    if not isinstance(endpoints, dict):
        return "the service has no endpoints yet"
    name = text(d(pod.get("metadata")).get("name"))
    ip = d(pod.get("status")).get("podIP")

    def listed(field: str) -> bool:
        return any(isinstance(a, dict) and ((ip and a.get("ip") == ip)
                                            or d(a.get("targetRef")).get("name") == name)
                   for s in items(endpoints.get("subsets")) if isinstance(s, dict)
                   for a in items(s.get(field)))

    if listed("addresses"):
        return None
    if listed("notReadyAddresses"):
        return "not ready in the service's endpoints"
    return "not in the service's endpoints yet"


def model_problem(answer: Any) -> tuple[ReplicaState, str] | None:
    """Triton's answer for the pod: a string is a load failure; False still loading."""
    if answer is True:
        return None
    if isinstance(answer, str):
        return "Failed", text(answer) or "the model failed to load"
    if answer is False:
        return "Starting", "the model is not ready yet (loading)"
    return "Starting", "Triton has not been asked about the model yet"


def _started(pod: dict[str, Any]) -> dt.datetime | None:
    """When the pod's containers last started (probe events before it are stale)."""
    times = [parse_time(d(d(c.get("state")).get("running")).get("startedAt"))
             for c in _statuses(d(pod.get("status")), "containerStatuses")]
    known = [t for t in times if t]
    return max(known) if known else None


def probe_problem(pod: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """The latest probe failure the kubelet reported since the containers started."""
    event = latest_event(events, "Unhealthy")
    started, when = _started(pod), event_time(d(event))
    if event is None or (started and when and when < started):
        return None
    return text(event.get("message")) or None


def replica_verdict(pod: dict[str, Any], events: list[dict[str, Any]], endpoints: Any,
                    model_ready: Mapping[str, Any], now: dt.datetime) -> ReplicaVerdict:
    """The verdict for one pod (``events`` already narrowed to it)."""
    name = text(d(pod.get("metadata")).get("name")) or "?"
    status = d(pod.get("status"))
    phase = status.get("phase")
    if phase in ("Failed", "Succeeded"):
        why = ": ".join(t for t in (text(status.get("reason")), text(status.get("message")))
                        if t)
        return ReplicaVerdict(name, "Failed", why or f"the pod ended (phase {phase})")
    problem = schedule_problem(pod, events, now) or containers_problem(pod, now)
    model = model_problem(model_ready.get(name) if isinstance(model_ready, Mapping) else None)
    if model and model[0] == "Failed" and (problem is None or problem[0] != "Failed"):
        problem = model
    if problem:
        state, why = problem
        if state == "Starting" and why in (NOT_READY, NOT_STARTED):
            why = probe_problem(pod, events) or why
        return ReplicaVerdict(name, state, text(why))
    ready = condition(pod, "Ready")
    if not ready or ready.get("status") != "True":
        return ReplicaVerdict(name, "Starting", probe_problem(pod, events)
                              or "the pod is not Ready")
    if model:
        return ReplicaVerdict(name, *model)
    missing = endpoint_problem(pod, endpoints)
    if missing:
        return ReplicaVerdict(name, "Starting", missing)
    return ReplicaVerdict(name, "Ready", "")
