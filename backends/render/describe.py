"""Describe and YAML text for one object: ``kubectl describe``'s layout, one renderer for every
backend (pure: the object and a related-objects lookup in, text out).

Secrets never show values: describe lists keys with sizes (as kubectl does) and YAML
replaces each value with a placeholder.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable

import yaml

from mlops_tui.backends.render._common import Obj, human_age, parse_time
from mlops_tui.backends.render._layout import LAST_APPLIED, NONE, Text, head
from mlops_tui.backends.render.core import access_modes, event_last_seen
from mlops_tui.backends.render.describe_node import describe_node
from mlops_tui.backends.render.describe_pods import describe_pod
from mlops_tui.backends.render.describe_workloads import (
    describe_cronjob,
    describe_daemonset,
    describe_deployment,
    describe_job,
    describe_replicaset,
    describe_statefulset,
)
from mlops_tui.backends.render.related import NoRelated, Related

REDACTED = "<redacted>"
Section = Callable[[Text, Obj, Related, float], None]


def redact(obj: Obj) -> Obj:
    """A copy fit to show: no managedFields, no secret values, no last-applied secret."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    meta.pop("managedFields", None)
    if out.get("kind") == "Secret" or "data" in out and out.get("type"):
        for field in ("data", "stringData"):
            if isinstance(out.get(field), dict):
                out[field] = {k: REDACTED for k in out[field]}
        (meta.get("annotations") or {}).pop(LAST_APPLIED, None)
    return out


def to_yaml(obj: Obj) -> str:
    return yaml.safe_dump(redact(obj), sort_keys=False, default_flow_style=False, width=120)


# -- kinds without a controller ---------------------------------------------------------------
def _size(value: str | None) -> int:
    """Bytes behind a base64 value (a secret's, or a config map's binary data)."""
    try:
        return len(base64.b64decode(value or "", validate=True))
    except (binascii.Error, ValueError):
        return len(value or "")


def _secret(out: Text, obj: Obj, related: Related, now: float) -> None:
    head(out, redact(obj))
    out.kv("Type", obj.get("type", ""))
    out.add("")
    out.add("Data")
    out.add("====")
    for key, value in sorted((obj.get("data") or {}).items()):
        out.kv(key, f"{_size(value)} bytes")


def _configmap(out: Text, obj: Obj, related: Related, now: float) -> None:
    head(out, obj)
    out.add("")
    out.add("Data")
    out.add("====")
    for key, val in sorted((obj.get("data") or {}).items()):
        out.add(f"{key}:", "----", *str(val).rstrip("\n").split("\n"), "")
    binary = obj.get("binaryData") or {}
    out.add("BinaryData")
    out.add("====")
    for key, val in sorted(binary.items()):
        out.kv(key, f"{_size(val)} bytes")


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def _service(out: Text, svc: Obj, related: Related, now: float) -> None:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    head(out, svc)
    selector = spec.get("selector") or {}
    out.kv("Selector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE)
    out.kv("Type", spec.get("type", "ClusterIP"))
    out.kv("IP", spec.get("clusterIP") or NONE)
    if spec.get("externalIPs"):
        out.kv("External IPs", ",".join(spec["externalIPs"]))
    if spec.get("externalName"):
        out.kv("External Name", spec["externalName"])
    for ing in (status.get("loadBalancer") or {}).get("ingress") or ():
        out.kv("LoadBalancer Ingress", ing.get("ip") or ing.get("hostname", ""))
    # endpoints are the ready pods the selector picks, as the endpoints controller finds them
    ready = [p for p in related.pods_selected(svc["metadata"].get("namespace", ""), selector)
             if (p.get("status") or {}).get("podIP") and _ready(p)] if selector else []
    for port in spec.get("ports") or ():
        proto = port.get("protocol", "TCP")
        target = port.get("targetPort", port.get("port"))
        out.kv("Port", f"{port.get('name', '<unset>')}  {port.get('port')}/{proto}")
        out.kv("TargetPort", f"{target}/{proto}")
        if port.get("nodePort"):
            out.kv("NodePort", f"{port.get('name', '<unset>')}  {port['nodePort']}/{proto}")
        out.kv("Endpoints", ",".join(f"{p['status']['podIP']}:{target}" for p in ready) or NONE)
    out.kv("Session Affinity", spec.get("sessionAffinity", "None"))
    if spec.get("externalTrafficPolicy"):
        out.kv("External Traffic Policy", spec["externalTrafficPolicy"])


def _uses_claim(pod: Obj, claim: str) -> bool:
    return any((vol.get("persistentVolumeClaim") or {}).get("claimName") == claim
               for vol in (pod.get("spec") or {}).get("volumes") or ())


def _claim(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj["metadata"]
    head(out, obj)
    out.kv("StorageClass", spec.get("storageClassName") or "")
    out.kv("Status", "Terminating" if meta.get("deletionTimestamp") else status.get("phase", ""))
    out.kv("Volume", spec.get("volumeName", ""))
    out.kv("Capacity", (status.get("capacity") or {}).get("storage", ""))
    out.kv("Access Modes", access_modes(status.get("accessModes")))
    out.kv("VolumeMode", spec.get("volumeMode", "Filesystem"))
    users = [p["metadata"]["name"] for p in related.pods_selected(meta.get("namespace", ""), {})
             if _uses_claim(p, meta["name"])]
    out.kv("Used By", "\n".join(sorted(users)) or NONE)


def _namespace(out: Text, obj: Obj, related: Related, now: float) -> None:
    head(out, obj)
    out.kv("Status", (obj.get("status") or {}).get("phase", ""))


# -- anything else: custom resources, events ---------------------------------------------------
def _label(key: str) -> str:
    """``lastTransitionTime`` -> ``Last Transition Time``, as kubectl prints CR fields."""
    if "/" in key or "." in key:
        return key
    words = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", key)
    return words[:1].upper() + words[1:]


def _fields(out: Text, value: object, indent: int) -> None:
    """A nested object as kubectl prints custom resources: ``Key:  value`` all the way down."""
    if isinstance(value, dict):
        for key, val in value.items():
            if isinstance(val, (dict, list)) and val:
                out.add(f"{' ' * indent}{_label(str(key))}:")
                _fields(out, val, indent + 2)
            else:
                out.kv(_label(str(key)), val if val not in (None, {}, []) else NONE, indent)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _fields(out, item, indent)
            else:
                out.add(f"{' ' * indent}{item}")


def _generic(out: Text, obj: Obj, related: Related, now: float) -> None:
    head(out, obj)
    out.kv("API Version", obj.get("apiVersion", ""))
    out.kv("Kind", obj.get("kind", ""))
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if isinstance(value, (dict, list)):
            if value:
                out.add(f"{_label(key)}:")
                _fields(out, value, 2)
        elif key not in ("data", "binaryData"):
            out.kv(_label(key), NONE if value is None else value)


# The section each kind gets, as kubectl keeps a describer per kind; anything else (custom
# resources included) is printed field by field.
SECTIONS: dict[str, Section] = {
    "Pod": describe_pod, "Deployment": describe_deployment,
    "ReplicaSet": describe_replicaset, "StatefulSet": describe_statefulset,
    "DaemonSet": describe_daemonset, "Job": describe_job, "CronJob": describe_cronjob,
    "Node": describe_node, "Service": _service, "PersistentVolumeClaim": _claim,
    "Namespace": _namespace, "Secret": _secret, "ConfigMap": _configmap,
}
# kinds that are themselves events get no Events section
NO_EVENTS = frozenset({"Event"})


def _event_age(ev: Obj, now: float) -> str:
    """kubectl describe's Age: since the first time, or "last (xN over first)" when repeated.

    A repeated event of the newer API keeps its count and last time in ``series``; they
    are read as ``kubectl get events`` reads them (count + 1, the last observation).
    """
    first = parse_time(ev.get("firstTimestamp") or ev.get("eventTime"))
    series = ev.get("series")
    count = int(series.get("count") or 0) + 1 if series else int(ev.get("count") or 1)
    if count > 1:
        return (f"{human_age(now - event_last_seen(ev))} (x{count} over "
                f"{human_age(now - first)})")
    return human_age(now - first) if first else "<unknown>"


def events(out: Text, evs: list[Obj], now: float) -> None:
    if not evs:
        out.kv("Events", NONE)
        return
    out.add("Events:")
    rows = [(ev.get("type", ""), ev.get("reason", ""), _event_age(ev, now),
             (ev.get("source") or {}).get("component") or ev.get("reportingComponent", ""),
             (ev.get("message") or "").strip().replace("\n", " "))
            for ev in sorted(evs, key=event_last_seen)]
    out.table(("Type", "Reason", "Age", "From", "Message"), rows)


def describe(obj: Obj, related: Related | None = None, now: float = 0.0) -> str:
    """``kubectl describe`` text for ``obj``; ``related`` answers for what it refers to."""
    related = related or NoRelated()
    out = Text()
    kind = obj.get("kind", "")
    SECTIONS.get(kind, _generic)(out, obj, related, now)
    if kind not in NO_EVENTS:
        events(out, list(related.events(obj)), now)
    return out.text()
