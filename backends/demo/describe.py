"""``kubectl describe``-like text and redacted YAML for the objects of a world.

Secrets show their keys and sizes, never a value: :func:`redact` is applied before YAML is
made, and :func:`describe` prints only byte counts for them.
"""

from __future__ import annotations

import base64
import re
import time

from mlops_tui.backends.demo.pods import active, gpu_requested, pods_on
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.render._common import Obj, human_age, parse_time, quantity
from mlops_tui.backends.render.describe import redact

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _when(value: str | None) -> str:
    t = parse_time(value)
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t)) if t else "<unset>"


class _Text:
    """Lines with kubectl's ``Key:  value`` layout; a multi-line value lines up under itself."""

    def __init__(self, width: int = 20) -> None:
        self.lines: list[str] = []
        self.width = width

    def kv(self, key: str, value: object, indent: int = 0, width: int | None = None) -> None:
        width = width or (self.width if indent == 0 else indent + 17)
        pad = max(width - indent, len(key) + 3)
        parts = str(value).split("\n") if str(value) != "" else ["<none>"]
        self.lines.append(f"{' ' * indent}{key + ':':<{pad}}{parts[0]}")
        self.lines += [" " * (indent + pad) + p for p in parts[1:]]

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def table(self, header: tuple[str, ...], rows: list[tuple[str, ...]], indent: int = 2) -> None:
        rows = [header, tuple("-" * len(h) for h in header), *rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            self.lines.append(" " * indent + "  ".join(cells).rstrip())

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _pairs(mapping: dict | None, sep: str = "=") -> str:
    return "\n".join(f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items())) or "<none>"


def _head(out: _Text, obj: Obj, namespaced: bool = True) -> None:
    meta = obj["metadata"]
    out.kv("Name", meta["name"])
    if namespaced:
        out.kv("Namespace", meta.get("namespace", ""))
    out.kv("Labels", _pairs(meta.get("labels")))
    out.kv("Annotations", _pairs(meta.get("annotations"), ": "))
    out.kv("CreationTimestamp", _when(meta.get("creationTimestamp")))


def _state(out: _Text, title: str, state: Obj) -> None:
    if not state:
        return
    (name, detail), = state.items()
    out.kv(title, name.capitalize(), 4)
    for key, label in (("reason", "Reason"), ("message", "Message"), ("exitCode", "Exit Code"),
                       ("startedAt", "Started"), ("finishedAt", "Finished")):
        if key in detail:
            value = _when(detail[key]) if key.endswith("At") else detail[key]
            out.kv(label, value, 6)


def _containers(out: _Text, spec: Obj, statuses: list[Obj] | None, indent: int = 2) -> None:
    out.add(" " * (indent - 2) + "Containers:")
    by_name = {cs["name"]: cs for cs in statuses or ()}
    for cont in spec.get("containers") or ():
        out.add(f"{' ' * indent}{cont['name']}:")
        cs = by_name.get(cont["name"])
        if cs:
            out.kv("Container ID", cs.get("containerID", ""), indent + 2)
        out.kv("Image", cont["image"], indent + 2)
        ports = ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}"
                          for p in cont.get("ports") or ())
        out.kv("Ports", ports or "<none>", indent + 2)
        if cont.get("args"):
            out.add(f"{' ' * (indent + 2)}Args:")
            out.lines += [f"{' ' * (indent + 4)}{a}" for a in cont["args"]]
        if cs:
            _state(out, "State", cs.get("state") or {})
            _state(out, "Last State", cs.get("lastState") or {})
            out.kv("Ready", str(cs.get("ready", False)), indent + 2)
            out.kv("Restart Count", cs.get("restartCount", 0), indent + 2)
        for part in ("limits", "requests"):
            res = (cont.get("resources") or {}).get(part) or {}
            if res:
                out.add(f"{' ' * (indent + 2)}{part.capitalize()}:")
                wide = max(len(k) for k in res) + 3 + indent + 4
                for key, val in res.items():
                    out.kv(key, val, indent + 4, wide)
        env = cont.get("env") or ()
        out.kv("Environment", "\n".join(f"{e['name']}:  {e.get('value', '<set>')}"
                                        for e in env) or "<none>", indent + 2)


def _events(out: _Text, world: World, obj: Obj, now: float) -> None:
    evs = world.events_for(obj["metadata"]["uid"])
    if not evs:
        out.kv("Events", "<none>")
        return
    out.add("Events:")
    rows = []
    for ev in evs:
        last, first = parse_time(ev.get("lastTimestamp")), parse_time(ev.get("firstTimestamp"))
        age = human_age(now - last)
        if int(ev.get("count") or 1) > 1:
            age += f" (x{ev['count']} over {human_age(now - first)})"
        rows.append((ev.get("type", ""), ev.get("reason", ""), age,
                     (ev.get("source") or {}).get("component", ""), ev.get("message", "")))
    out.table(("Type", "Reason", "Age", "From", "Message"), rows)


def _pod(out: _Text, world: World, pod: Obj) -> None:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    out.kv("Name", meta["name"])
    out.kv("Namespace", meta["namespace"])
    out.kv("Service Account", spec.get("serviceAccountName", "default"))
    node = spec.get("nodeName")
    out.kv("Node", f"{node}/{status.get('hostIP', '')}" if node else "<none>")
    out.kv("Start Time", _when(status.get("startTime")))
    out.kv("Labels", _pairs(meta.get("labels")))
    out.kv("Annotations", _pairs(meta.get("annotations"), ": "))
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp"):
        phase = f"Terminating (lasts {meta.get('deletionGracePeriodSeconds', 30)}s)"
    out.kv("Status", phase)
    out.kv("IP", status.get("podIP", ""))
    owners = meta.get("ownerReferences") or ()
    out.kv("Controlled By", ", ".join(f"{r['kind']}/{r['name']}" for r in owners) or "<none>")
    _containers(out, spec, status.get("containerStatuses"))
    out.add("Conditions:")
    out.table(("Type", "Status"), [(c["type"], c["status"])
                                   for c in status.get("conditions") or ()])
    out.kv("QoS Class", status.get("qosClass", ""))
    out.kv("Node-Selectors", _pairs(spec.get("nodeSelector")))
    out.kv("Tolerations", "\n".join(
        f"{t.get('key', '')}{':' + t['effect'] if t.get('effect') else ''} "
        f"op={t.get('operator', 'Equal')}" for t in spec.get("tolerations") or ()) or "<none>")


def _workload(out: _Text, world: World, obj: Obj) -> None:
    spec, status, kind = obj["spec"], obj.get("status") or {}, obj["kind"]
    _head(out, obj)
    out.kv("Selector", ",".join(f"{k}={v}" for k, v in
                                (spec.get("selector") or {}).get("matchLabels", {}).items()))
    want = spec.get("replicas", 1)
    if kind == "Deployment":
        out.kv("Replicas", f"{want} desired | {status.get('updatedReplicas', 0)} updated | "
                           f"{status.get('replicas', 0)} total | "
                           f"{status.get('availableReplicas', 0)} available | "
                           f"{status.get('unavailableReplicas', 0)} unavailable")
        out.kv("StrategyType", (spec.get("strategy") or {}).get("type", ""))
    elif kind == "DaemonSet":
        out.kv("Desired Number of Nodes Scheduled", status.get("desiredNumberScheduled", 0),
               width=36)
        out.kv("Number of Nodes Scheduled with Available Pods",
               status.get("numberAvailable", 0), width=48)
    elif kind == "Job":
        out.kv("Completions", spec.get("completions", 1))
        out.kv("Start Time", _when(status.get("startTime")))
        if status.get("completionTime"):
            out.kv("Completed At", _when(status["completionTime"]))
    else:
        out.kv("Replicas", f"{status.get('replicas', 0)} current / {want} desired")
    if kind in ("Job", "ReplicaSet", "StatefulSet", "DaemonSet"):
        pods = world.owned_by("pods", obj["metadata"]["uid"])
        phases = [p["status"].get("phase", "") for p in pods]
        out.kv("Pods Status", " / ".join(f"{phases.count(p)} {p}" for p in
                                         ("Running", "Pending", "Succeeded", "Failed")))
    tpl = spec.get("template") or {}
    out.add("Pod Template:")
    out.kv("Labels", _pairs((tpl.get("metadata") or {}).get("labels")), 2, 10)
    _containers(out, tpl.get("spec") or {}, None, 4)
    if status.get("conditions"):
        out.add("Conditions:")
        out.table(("Type", "Status", "Reason"), [(c["type"], c["status"], c.get("reason", ""))
                                                 for c in status["conditions"]])
    if kind == "Deployment":
        sets = world.owned_by("replicasets", obj["metadata"]["uid"])
        new = [rs for rs in sets if rs["spec"].get("replicas")]
        old = [rs for rs in sets if not rs["spec"].get("replicas")]
        fmt = "{} ({}/{} replicas created)"
        out.kv("OldReplicaSets", ", ".join(fmt.format(rs["metadata"]["name"], 0, 0)
                                           for rs in old) or "<none>")
        out.kv("NewReplicaSet", ", ".join(fmt.format(
            rs["metadata"]["name"], (rs.get("status") or {}).get("replicas", 0),
            rs["spec"]["replicas"]) for rs in new) or "<none>")


def _node(out: _Text, world: World, node: Obj) -> None:
    meta, spec, status = node["metadata"], node["spec"], node.get("status") or {}
    labels = meta.get("labels") or {}
    out.kv("Name", meta["name"])
    out.kv("Roles", ",".join(sorted(k.rsplit("/", 1)[1] for k in labels
                                    if k.startswith("node-role.kubernetes.io/"))) or "<none>")
    out.kv("Labels", _pairs(labels))
    out.kv("CreationTimestamp", _when(meta.get("creationTimestamp")))
    out.kv("Taints", "\n".join(f"{t['key']}{'=' + t['value'] if t.get('value') else ''}:"
                               f"{t['effect']}" for t in spec.get("taints") or ()) or "<none>")
    out.kv("Unschedulable", str(bool(spec.get("unschedulable"))).lower())
    out.add("Conditions:")
    out.table(("Type", "Status", "Reason", "Message"), [
        (c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
        for c in status.get("conditions") or ()])
    out.add("Addresses:")
    for addr in status.get("addresses") or ():
        out.kv(addr["type"], addr["address"], 2, 16)
    for title in ("capacity", "allocatable"):
        out.add(f"{title.capitalize()}:")
        for key, val in (status.get(title) or {}).items():
            out.kv(key, val, 2, 28)
    out.add("System Info:")
    for key, val in (status.get("nodeInfo") or {}).items():
        out.kv(key[0].upper() + key[1:], val, 2, 28)
    out.kv("PodCIDR", spec.get("podCIDR", ""))
    running = [p for p in pods_on(world, meta["name"]) if active(p)]
    out.add(f"Non-terminated Pods:          ({len(running)} in total)")
    rows = []
    for pod in sorted(running, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
        req = [c.get("resources", {}).get("requests", {}) for c in pod["spec"]["containers"]]
        cpu = sum(quantity(r.get("cpu")) for r in req)
        gpu = sum(int(quantity(v)) for r in req for k, v in r.items() if k.startswith("nvidia"))
        rows.append((pod["metadata"]["namespace"], pod["metadata"]["name"],
                     f"{int(cpu * 1000)}m", str(gpu)))
    out.table(("Namespace", "Name", "CPU Requests", "GPU Requests"), rows)
    alloc = status.get("allocatable") or {}
    total = sum(int(quantity(v)) for k, v in alloc.items() if k.startswith("nvidia.com/"))
    out.add("Allocated resources:")
    out.table(("Resource", "Requests"), [("nvidia.com/gpu (incl. MIG)",
                                          f"{gpu_requested(world, meta['name'])}/{total}")])


def _secret(out: _Text, obj: Obj) -> None:
    _head(out, redact(obj))
    out.kv("Type", obj.get("type", ""))
    out.add("")
    out.add("Data")
    out.add("====")
    for key, val in sorted((obj.get("data") or {}).items()):
        size = len(base64.b64decode(val)) if val else 0
        out.add(f"{key}:  {size} bytes")


def _configmap(out: _Text, obj: Obj) -> None:
    _head(out, obj)
    out.add("")
    out.add("Data")
    out.add("====")
    for key, val in sorted((obj.get("data") or {}).items()):
        out.lines += [f"{key}:", "----", *str(val).rstrip("\n").split("\n"), ""]


def _label(key: str) -> str:
    """``lastTransitionTime`` -> ``Last Transition Time``, as kubectl prints CR fields."""
    if "/" in key or "." in key:
        return key
    words = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", key)
    return words[:1].upper() + words[1:]


def _fields(out: _Text, value: object, indent: int) -> None:
    """A nested object as kubectl prints custom resources: ``Key:  value`` all the way down."""
    if isinstance(value, dict):
        width = indent + max((len(_label(k)) for k in value), default=0) + 3
        for key, val in value.items():
            if isinstance(val, (dict, list)) and val:
                out.add(f"{' ' * indent}{_label(key)}:")
                _fields(out, val, indent + 2)
            else:
                out.kv(_label(key), val if val not in (None, {}, []) else "<none>", indent,
                       width)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _fields(out, item, indent)
            else:
                out.add(f"{' ' * indent}{item}")


def _service(out: _Text, world: World, svc: Obj) -> None:
    spec, status = svc["spec"], svc.get("status") or {}
    _head(out, svc)
    out.kv("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()))
    out.kv("Type", spec.get("type", "ClusterIP"))
    out.kv("IP", spec.get("clusterIP", ""))
    for ing in (status.get("loadBalancer") or {}).get("ingress") or ():
        out.kv("LoadBalancer Ingress", ing.get("ip") or ing.get("hostname", ""))
    selector = spec.get("selector") or {}
    backends = [p for p in world.list("pods", svc["metadata"]["namespace"])
                if selector and active(p) and (p.get("status") or {}).get("podIP")
                and all((p["metadata"].get("labels") or {}).get(k) == v
                        for k, v in selector.items())]
    for port in spec.get("ports") or ():
        proto = port.get("protocol", "TCP")
        out.kv("Port", f"{port.get('name', '<unset>')}  {port['port']}/{proto}")
        out.kv("TargetPort", f"{port.get('targetPort', port['port'])}/{proto}")
        if port.get("nodePort"):
            out.kv("NodePort", f"{port.get('name', '<unset>')}  {port['nodePort']}/{proto}")
        out.kv("Endpoints", ",".join(f"{p['status']['podIP']}:{port.get('targetPort')}"
                                     for p in backends) or "<none>")
    out.kv("Session Affinity", spec.get("sessionAffinity", "None"))


def describe(world: World, obj: Obj, now: float, namespaced: bool = True) -> str:
    out = _Text()
    kind = obj.get("kind")
    if kind == "Pod":
        _pod(out, world, obj)
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        _workload(out, world, obj)
    elif kind == "Node":
        _node(out, world, obj)
    elif kind == "Secret":
        _secret(out, obj)
    elif kind == "ConfigMap":
        _configmap(out, obj)
    elif kind == "Service":
        _service(out, world, obj)
    else:
        _head(out, obj, namespaced)
        out.kv("API Version", obj.get("apiVersion", ""))
        out.kv("Kind", kind)
        for section in ("spec", "status", "involvedObject"):
            if obj.get(section):
                out.add(f"{section[0].upper()}{section[1:]}:")
                _fields(out, obj[section], 2)
        for field in ("reason", "message", "type", "count"):
            if field in obj:
                out.kv(field.capitalize(), obj[field])
    if kind != "Event":
        _events(out, world, obj, now)
    return out.text()
