"""Whether a pod may be port-forwarded to, and why the API server refused a stream."""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.errors import (
    BackendError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    Unauthorized,
)
from mlops_tui.backends.kubernetes.transport import Transport
from mlops_tui.backends.names import quote_segment

_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def check_running(pod: dict[str, Any]) -> None:
    """Raises ConnectionFailed unless the pod's phase is Running (nothing answers else)."""
    meta = pod.get("metadata") or {}
    phase = str((pod.get("status") or {}).get("phase") or "Pending")
    if phase != "Running":
        raise ConnectionFailed(f"cannot port-forward to pod {meta.get('namespace')}/"
                               f"{meta.get('name')}: the pod is {phase}")


def check_may_forward(transport: Transport, namespace: str, pod: str) -> None:
    """Ask the API server whether this user may port-forward to ``pod``: ``create`` (what
    kubectl's SPDY needs) or ``get`` (what a WebSocket upgrade needs on servers before
    1.30). A server that cannot answer the question is not a refusal.

    Raises:
        Forbidden: neither verb is allowed.
    """
    for verb in ("create", "get"):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {
                      "namespace": namespace, "verb": verb, "resource": "pods",
                      "subresource": "portforward", "name": pod}}}
        try:
            answer = transport.json("POST", _REVIEWS, body=review)
        except (Forbidden, NotFound):
            return
        if (answer.get("status") or {}).get("allowed") is True:
            return
    raise Forbidden(f"forbidden: you may not port-forward to pods in namespace "
                    f"{namespace!r} (pods/portforward)")


def explain_refusal(transport: Transport, namespace: str, pod: str, status: int
                    ) -> BackendError:
    """Why the API server refused a stream with ``status`` (it sends no reason we can read
    through a WebSocket handshake): the pod is gone or stopped, or else the node."""
    if status == 401:
        return Unauthorized(f"{transport.server} refused the credentials (401 Unauthorized)")
    if status == 403:
        return Forbidden(f"forbidden: port-forward to pod {namespace}/{pod}")
    try:
        obj = transport.get(f"/api/v1/namespaces/{quote_segment(namespace)}/pods/"
                            f"{quote_segment(pod)}")
        check_running(obj)
    except BackendError as exc:
        return exc
    return ConnectionFailed(f"the API server refused the port-forward to pod {namespace}/"
                            f"{pod} ({status}): the pod's node may be unreachable")
