"""Describe and YAML text for one object (pure: object and its events in, text out).

Secrets never show values: describe lists keys with sizes (as kubectl does) and YAML
replaces each value with a placeholder.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import yaml

from mlops_tui.backends.render._common import Obj, human_age, parse_time
from mlops_tui.backends.render.pods import pod_phase

REDACTED = "<redacted>"


def redact(obj: Obj) -> Obj:
    """A copy fit to show: no managedFields, no secret values, no last-applied secret."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    meta.pop("managedFields", None)
    if out.get("kind") == "Secret" or "data" in out and out.get("type"):
        for field in ("data", "stringData"):
            if isinstance(out.get(field), dict):
                out[field] = {k: REDACTED for k in out[field]}
        (meta.get("annotations") or {}).pop(
            "kubectl.kubernetes.io/last-applied-configuration", None)
    return out


def to_yaml(obj: Obj) -> str:
    return yaml.safe_dump(redact(obj), sort_keys=False, default_flow_style=False, width=120)


def _map(label: str, values: dict[str, Any] | None, indent: int = 0) -> list[str]:
    pad = " " * indent
    if not values:
        return [f"{pad}{label + ':':<18}<none>"]
    items = sorted(values.items())
    lines = [f"{pad}{label + ':':<18}{items[0][0]}={items[0][1]}"]
    lines += [f"{pad}{'':<18}{k}={v}" for k, v in items[1:]]
    return lines


def _block(title: str, value: Any, indent: int = 2) -> list[str]:
    if value in (None, {}, []):
        return []
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=110)
    return [f"{title}:"] + [" " * indent + line for line in text.rstrip().splitlines()]


def _pod(obj: Obj) -> list[str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    lines = [
        f"{'Node:':<18}{spec.get('nodeName') or '<none>'}",
        f"{'Status:':<18}{pod_phase(obj)}",
        f"{'IP:':<18}{status.get('podIP') or '<none>'}",
        f"{'QoS Class:':<18}{status.get('qosClass') or '<none>'}",
        "Containers:",
    ]
    statuses = {cs.get("name"): cs for cs in status.get("containerStatuses") or ()}
    for container in spec.get("containers") or ():
        cs = statuses.get(container.get("name"), {})
        state = next(iter(cs.get("state") or {"waiting": {}}), "waiting")
        res = container.get("resources") or {}
        lines += [
            f"  {container.get('name')}:",
            f"    {'Image:':<16}{container.get('image', '')}",
            f"    {'State:':<16}{state.capitalize()}",
            f"    {'Ready:':<16}{cs.get('ready', False)}",
            f"    {'Restart Count:':<16}{cs.get('restartCount', 0)}",
        ]
        for kind in ("limits", "requests"):
            if res.get(kind):
                lines.append(f"    {kind.capitalize() + ':':<16}" + ", ".join(
                    f"{k}={v}" for k, v in sorted(res[kind].items())))
    lines += _conditions(status)
    return lines


def _conditions(status: Obj) -> list[str]:
    conds = status.get("conditions") if isinstance(status, dict) else None
    if not conds:
        return []
    lines = ["Conditions:", f"  {'Type':<22}{'Status':<8}Reason"]
    lines += [f"  {c.get('type', ''):<22}{c.get('status', ''):<8}{c.get('reason', '')}"
              for c in conds]
    return lines


def _secret(obj: Obj) -> list[str]:
    lines = [f"{'Type:':<18}{obj.get('type', '')}", "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        try:
            size = len(base64.b64decode(value or ""))
        except ValueError:
            size = len(value or "")
        lines.append(f"{key}:  {size} bytes")
    return lines


def _generic(obj: Obj) -> list[str]:
    skip = {"apiVersion", "kind", "metadata", "status", "data", "binaryData"}
    lines: list[str] = []
    for key, value in obj.items():
        if key not in skip:
            lines += _block(key.capitalize(), value)
    status = obj.get("status")
    if isinstance(status, dict):
        lines += _conditions(status)
        rest = {k: v for k, v in status.items() if k != "conditions"}
        lines += _block("Status", rest)
    if obj.get("kind") == "ConfigMap":
        lines += ["Data", "===="] + [f"{k}:  {len(str(v))} bytes"
                                      for k, v in sorted((obj.get("data") or {}).items())]
    return lines


def _events(events: list[Obj], now: float) -> list[str]:
    if not events:
        return ["Events:           <none>"]
    lines = ["Events:", f"  {'Type':<9}{'Reason':<22}{'Age':<8}{'From':<22}Message",
             f"  {'----':<9}{'------':<22}{'---':<8}{'----':<22}-------"]
    events = sorted(events, key=lambda e: parse_time(
        e.get("lastTimestamp") or e.get("eventTime")
        or (e.get("metadata") or {}).get("creationTimestamp")))
    for ev in events:
        when = parse_time(ev.get("lastTimestamp") or ev.get("eventTime")
                          or (ev.get("metadata") or {}).get("creationTimestamp"))
        source = (ev.get("source") or {}).get("component") or ev.get("reportingComponent", "")
        lines.append(f"  {ev.get('type', ''):<9}{ev.get('reason', ''):<22}"
                     f"{human_age(now - when) if when else '':<8}{source:<22}"
                     f"{(ev.get('message') or '').strip()}")
    return lines


def describe(obj: Obj, events: list[Obj], now: float) -> str:
    meta = obj.get("metadata") or {}
    created = parse_time(meta.get("creationTimestamp"))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    lines = [f"{'Name:':<18}{meta.get('name', '')}"]
    if meta.get("namespace"):
        lines.append(f"{'Namespace:':<18}{meta['namespace']}")
    lines += _map("Labels", meta.get("labels"))
    lines += _map("Annotations", annotations)
    lines.append(f"{'Created:':<18}{meta.get('creationTimestamp', '')}"
                 + (f" ({human_age(now - created)} ago)" if created else ""))
    owners = meta.get("ownerReferences") or ()
    if owners:
        lines.append(f"{'Controlled By:':<18}" + ", ".join(
            f"{o.get('kind')}/{o.get('name')}" for o in owners))
    kind = obj.get("kind")
    if kind == "Pod":
        lines += _pod(obj)
    elif kind == "Secret":
        lines += _secret(obj)
    else:
        lines += _generic(obj)
    return "\n".join(lines + [""] + _events(events, now)) + "\n"
