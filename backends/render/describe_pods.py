"""``kubectl describe`` of a pod, and the container and pod-template parts workloads share."""

from __future__ import annotations

from mlops_tui.backends.render._common import Obj, human_age, parse_time
from mlops_tui.backends.render._layout import (
    NONE,
    Text,
    conditions,
    controller_of,
    pairs,
    when,
)
from mlops_tui.backends.render.pods import pod_phase
from mlops_tui.backends.render.related import Related

_STATE_FIELDS = (("reason", "Reason"), ("message", "Message"), ("exitCode", "Exit Code"),
                 ("signal", "Signal"), ("startedAt", "Started"), ("finishedAt", "Finished"))


def _state(out: Text, title: str, state: Obj, indent: int) -> None:
    if not state:
        out.kv(title, "Waiting", indent)
        return
    name, detail = next(iter(state.items()))
    out.kv(title, name.capitalize(), indent)
    for key, label in _STATE_FIELDS:
        if key in (detail or {}):
            value = when(detail[key]) if key.endswith("At") else detail[key]
            out.kv(label, value, indent + 2)


def _env_source(source: Obj) -> str:
    """Where an env var comes from, never its value (a secret's stays in the secret)."""
    for ref, what in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
        if ref in source:
            key = source[ref]
            return f"<set to the key '{key.get('key')}' in {what} '{key.get('name')}'>"
    if "fieldRef" in source:
        field = source["fieldRef"]
        return f"({field.get('apiVersion', 'v1')}:{field.get('fieldPath')})"
    if "resourceFieldRef" in source:
        return f"({source['resourceFieldRef'].get('resource')})"
    return "<set>"


def _env(cont: Obj) -> str:
    lines = [f"{e.get('name')}:  "
             + (str(e["value"]) if "value" in e else _env_source(e.get("valueFrom") or {}))
             for e in cont.get("env") or ()]
    lines += [f"{next(iter(k for k in src if k != 'prefix'), '')} "
              f"{(src.get('configMapRef') or src.get('secretRef') or {}).get('name', '')}"
              for src in cont.get("envFrom") or ()]
    return "\n".join(lines) or NONE


def _mounts(cont: Obj) -> str:
    return "\n".join(
        f"{m.get('mountPath')} from {m.get('name')} ({'ro' if m.get('readOnly') else 'rw'})"
        for m in cont.get("volumeMounts") or ()) or NONE


def containers(out: Text, title: str, specs: list[Obj], statuses: list[Obj] | None,
               indent: int = 2) -> None:
    """One block per container: image, ports, state, restarts, resources, env, mounts."""
    out.add(" " * (indent - 2) + f"{title}:")
    by_name = {cs.get("name"): cs for cs in statuses or ()}
    sub = indent + 2
    for cont in specs:
        out.add(f"{' ' * indent}{cont.get('name', '')}:")
        cs = by_name.get(cont.get("name"))
        if cs is not None:
            out.kv("Container ID", cs.get("containerID", ""), sub)
        out.kv("Image", cont.get("image", ""), sub)
        if cs is not None:
            out.kv("Image ID", cs.get("imageID", ""), sub)
        ports = "\n".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
                          for p in cont.get("ports") or ())
        out.kv("Ports" if "\n" in ports else "Port", ports or NONE, sub)
        for field in ("command", "args"):
            if cont.get(field):
                out.add(f"{' ' * sub}{field.capitalize()}:")
                out.add(*(f"{' ' * (sub + 2)}{a}" for a in cont[field]))
        if cs is not None:
            _state(out, "State", cs.get("state") or {}, sub)
            if (cs.get("lastState") or {}).get("terminated"):
                _state(out, "Last State", cs["lastState"], sub)
            out.kv("Ready", str(bool(cs.get("ready"))), sub)
            out.kv("Restart Count", cs.get("restartCount", 0), sub)
        for part in ("limits", "requests"):
            res = (cont.get("resources") or {}).get(part) or {}
            if res:
                out.add(f"{' ' * sub}{part.capitalize()}:")
                for key, val in sorted(res.items()):
                    out.kv(key, val, sub + 2)
        out.kv("Environment", _env(cont), sub)
        out.kv("Mounts", _mounts(cont), sub)


def _volume(vol: Obj) -> str:
    kind = next((k for k in vol if k != "name"), "")
    detail = vol.get(kind) or {}
    name = (detail.get("claimName") or detail.get("name") or detail.get("secretName")
            or detail.get("path") or "") if isinstance(detail, dict) else ""
    return f"{kind[:1].upper()}{kind[1:]}" + (f" ({name})" if name else "")


def volumes(out: Text, spec: Obj, indent: int = 0) -> None:
    vols = spec.get("volumes") or ()
    if not vols:
        out.kv("Volumes", NONE, indent)
        return
    out.add(" " * indent + "Volumes:")
    for vol in vols:
        out.kv(vol.get("name", ""), _volume(vol), indent + 2)


def tolerations(spec: Obj) -> str:
    """kubectl's form: ``key=value:Effect op=Exists for 300s``."""
    lines = []
    for tol in spec.get("tolerations") or ():
        text = tol.get("key", "") + (f"={tol['value']}" if tol.get("value") else "")
        text += f":{tol['effect']}" if tol.get("effect") else ""
        if tol.get("operator") == "Exists" and not tol.get("value"):
            text += " op=Exists" if tol.get("key") else "op=Exists"
        if tol.get("tolerationSeconds") is not None:
            text += f" for {tol['tolerationSeconds']}s"
        lines.append(text)
    return "\n".join(lines) or NONE


def pod_template(out: Text, template: Obj) -> None:
    """A workload's ``Pod Template:`` section."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    out.add("Pod Template:")
    out.kv("Labels", pairs(meta.get("labels")), 2)
    if spec.get("serviceAccountName"):
        out.kv("Service Account", spec["serviceAccountName"], 2)
    if spec.get("initContainers"):
        containers(out, "Init Containers", spec["initContainers"], None, 4)
    containers(out, "Containers", spec.get("containers") or [], None, 4)
    volumes(out, spec, 2)


def describe_pod(out: Text, pod: Obj, related: Related, now: float) -> None:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    out.kv("Name", meta.get("name", ""))
    out.kv("Namespace", meta.get("namespace", ""))
    if spec.get("priority") is not None:
        out.kv("Priority", spec["priority"])
    out.kv("Service Account", spec.get("serviceAccountName") or "default")
    node = spec.get("nodeName")
    out.kv("Node", f"{node}/{status.get('hostIP', '')}" if node else NONE)
    if status.get("startTime"):
        out.kv("Start Time", when(status["startTime"]))
    out.kv("Labels", pairs(meta.get("labels")))
    out.kv("Annotations", pairs(meta.get("annotations"), ": "))
    phase = pod_phase(pod)  # what the pods table says, so the two never disagree
    deleted = parse_time(meta.get("deletionTimestamp"))
    if deleted:
        phase += f" (lasts {human_age(now - deleted)})"
    out.kv("Status", phase)
    if deleted and meta.get("deletionGracePeriodSeconds") is not None:
        out.kv("Termination Grace Period", f"{meta['deletionGracePeriodSeconds']}s")
    for field in ("reason", "message"):
        if status.get(field):
            out.kv(field.capitalize(), status[field])
    out.kv("IP", status.get("podIP", ""))
    ips = status.get("podIPs") or ()
    if ips:
        out.add("IPs:")
        for ip in ips:
            out.kv("IP", ip.get("ip", ""), 2)
    else:
        out.kv("IPs", NONE)
    if controller_of(pod):
        out.kv("Controlled By", controller_of(pod))
    if spec.get("initContainers"):
        containers(out, "Init Containers", spec["initContainers"],
                   status.get("initContainerStatuses"))
    containers(out, "Containers", spec.get("containers") or [], status.get("containerStatuses"))
    conditions(out, status)
    volumes(out, spec)
    out.kv("QoS Class", status.get("qosClass") or NONE)
    out.kv("Node-Selectors", pairs(spec.get("nodeSelector")))
    out.kv("Tolerations", tolerations(spec))
