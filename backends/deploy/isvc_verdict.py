"""Is an InferenceService serving? One verdict from the status KServe's controller writes.

KServe (0.11 and later) writes ``status.conditions`` (``Ready``, and below it
``PredictorReady``, ``IngressReady`` and others, each with a reason and a message) and
``status.modelStatus``: ``states.targetModelState`` / ``activeModelState`` (Pending,
Standby, Loading, Loaded, FailedToLoad), ``transitionStatus`` (UpToDate, InProgress,
BlockedByFailedLoad, InvalidSpec) and, after a failure, ``lastFailureInfo`` (reason,
message). KServe runs the pods itself, so the verdict has no replicas of its own.

Failed is terminal: the model failed to load, or the spec is one KServe cannot run;
KServe does not retry until the spec changes. Ready is the ``Ready`` condition True for
the generation the controller last saw; anything else is Progressing with the first
condition that is not True.
"""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.deploy.shapes import d, items, number, text
from mlops_tui.backends.deploy.verdict import Verdict

FAILED_STATE = "FailedToLoad"
BLOCKED = frozenset({"BlockedByFailedLoad", "InvalidSpec"})
# The parts first (they say which part waits), then the rest in KServe's order, Ready last.
CONDITION_ORDER = ("PredictorReady", "IngressReady")
LAST = "Ready"


def _condition_line(cond: dict[str, Any]) -> str:
    reason, message = text(cond.get("reason")), text(cond.get("message"))
    head = f"{text(cond.get('type'))} {text(cond.get('status')) or 'Unknown'}"
    return ": ".join(part for part in (head, reason, message) if part)


def _conditions(status: dict[str, Any]) -> list[dict[str, Any]]:
    found = [c for c in items(status.get("conditions"))
             if isinstance(c, dict) and text(c.get("type"))]

    def rank(cond: dict[str, Any]) -> int:
        kind = text(cond.get("type"))
        if kind == LAST:
            return len(CONDITION_ORDER) + 1
        return CONDITION_ORDER.index(kind) if kind in CONDITION_ORDER else len(CONDITION_ORDER)
    return sorted(found, key=rank)  # stable: KServe's order among the rest


def _failure(model: dict[str, Any]) -> str | None:
    """Why the model cannot serve, or None while it still may."""
    states = d(model.get("states"))
    info = d(model.get("lastFailureInfo"))
    failed = FAILED_STATE in (text(states.get("targetModelState")),
                              text(states.get("activeModelState")))
    blocked = text(model.get("transitionStatus")) in BLOCKED
    if not (failed or blocked or info):
        return None
    why = ": ".join(p for p in (text(info.get("reason")), text(info.get("message"))) if p)
    head = FAILED_STATE if failed else text(model.get("transitionStatus")) or "failed"
    return f"model {head}" + (f" ({why})" if why else "")


def _model_state(model: dict[str, Any]) -> str:
    states = d(model.get("states"))
    active, target = text(states.get("activeModelState")), text(states.get("targetModelState"))
    if target and target != active:
        return f"model {active or 'not loaded'} → {target}"
    return f"model {active}" if active else ""


def isvc_verdict(isvc: dict[str, Any] | None) -> Verdict:
    """The InferenceService's verdict.

    Args:
        isvc: the InferenceService as the server returns it; None when it does not exist.

    Returns:
        The verdict (no replicas: KServe names and runs the pods); never raises, whatever
        shape the object has.
    """
    if not isinstance(isvc, dict):
        return Verdict("Progressing", "the InferenceService does not exist (yet)", ())
    status = d(isvc.get("status"))
    model = d(status.get("modelStatus"))
    conditions = _conditions(status)
    ready = next((c for c in conditions if text(c.get("type")) == "Ready"), None)
    is_ready = ready is not None and text(ready.get("status")) == "True"
    failure = _failure(model)
    if failure and not is_ready:  # a failure KServe recovered from stays in lastFailureInfo
        return Verdict("Failed", f"InferenceService: {failure}", ())
    generation = number(d(isvc.get("metadata")).get("generation"))
    seen = number(status.get("observedGeneration"))
    if is_ready and generation is not None and seen is not None and seen < generation:
        return Verdict("Progressing", f"KServe has not seen generation {generation} yet "
                                      f"(status is for {seen})", ())
    state = _model_state(model)
    if is_ready:
        url = text(status.get("url")) or text(d(status.get("address")).get("url"))
        parts = ["Ready", state, url]
        return Verdict("Ready", ", ".join(p for p in parts if p), ())
    waiting = next((c for c in conditions if text(c.get("status")) != "True"), None)
    if waiting is None:
        why = "KServe has written no conditions yet" if not conditions else "no Ready condition"
    else:
        why = _condition_line(waiting)
    return Verdict("Progressing", "; ".join(p for p in (why, state) if p), ())
