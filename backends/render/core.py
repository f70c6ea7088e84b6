"""Core kinds: namespaces, nodes, services, events, PVCs, configmaps, secrets, and any CR."""

from __future__ import annotations

from mlops_tui.backends.models import Column, Row
from mlops_tui.backends.render._common import (
    AGE,
    NAME,
    NS,
    Obj,
    age_of,
    condition,
    gpu_count,
    gpu_text,
    human_age,
    mem_text,
    parse_time,
    quantity,
)


def _base(obj: Obj, now: float, cells: tuple[str, ...], keys: tuple, state: str = "",
          namespaced: bool = True, search: str = "") -> Row:
    meta = obj["metadata"]
    age, created = age_of(meta, now)
    head = (meta.get("namespace", ""), meta["name"]) if namespaced else (meta["name"],)
    return Row(
        uid=meta["uid"], name=meta["name"], namespace=meta.get("namespace", ""),
        cells=(*head, *cells, age), labels=meta.get("labels") or {},
        sort_keys=(*("",) * len(head), *keys, created), status=state, search_text=search,
    )


NAMESPACE_COLUMNS = (NAME, Column("STATUS"), AGE)


def render_namespace(obj: Obj, now: float) -> Row:
    phase = (obj.get("status") or {}).get("phase", "")
    return _base(obj, now, (phase,), ("",), "ok" if phase == "Active" else "warn",
                 namespaced=False)


NODE_COLUMNS = (
    NAME, Column("STATUS"), Column("ROLES"), Column("VERSION"),
    Column("CPU", numeric=True), Column("MEM", numeric=True),
    Column("GPU", numeric=True), Column("GPU-REQ", numeric=True), Column("GPU-TYPE"),
    Column("INTERNAL-IP", wide_only=True), AGE,
)


ROLE_PREFIX, ROLE_LABEL = "node-role.kubernetes.io/", "kubernetes.io/role"


def node_roles(labels: dict[str, str]) -> list[str]:
    """Roles as kubectl finds them: ``node-role.kubernetes.io/ROLE`` keys and the
    ``kubernetes.io/role`` label's value, sorted, no duplicates."""
    roles = {k.removeprefix(ROLE_PREFIX) for k in labels if k.startswith(ROLE_PREFIX)}
    roles.discard("")
    if labels.get(ROLE_LABEL):
        roles.add(labels[ROLE_LABEL])
    return sorted(roles)


def render_node(obj: Obj, now: float, gpu_requested: int = 0) -> Row:
    """A node row; ``gpu_requested`` comes from the pods scheduled on it (the caller joins)."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    ready = condition(status, "Ready")
    states = ["Ready" if ready == "True" else "NotReady" if ready else "Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    alloc = status.get("allocatable") or {}
    gpus, mig = gpu_count(alloc)
    cap_gpus, _ = gpu_count(status.get("capacity"))
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or ()}
    gpu_type = labels.get("nvidia.com/gpu.product", "")
    total = gpus + sum(mig.values())
    gpu_cell = gpu_text(gpus, mig) if total else ""
    if cap_gpus and cap_gpus != gpus:
        gpu_cell += f" (cap {cap_gpus})"
    state = "ok" if ready == "True" and not spec.get("unschedulable") else (
        "warn" if ready == "True" else "error")
    return _base(obj, now, (
        ",".join(states), ",".join(node_roles(labels)) or "<none>",
        (status.get("nodeInfo") or {}).get("kubeletVersion", ""),
        alloc.get("cpu", ""), mem_text(quantity(alloc.get("memory"))), gpu_cell,
        f"{gpu_requested}/{total}" if total else "", gpu_type,
        addresses.get("InternalIP") or "<none>",
    ), ("", "", "", quantity(alloc.get("cpu")), quantity(alloc.get("memory")), total,
        gpu_requested, "", ""), state, namespaced=False)


SERVICE_COLUMNS = (NS, NAME, Column("TYPE"), Column("CLUSTER-IP"), Column("EXTERNAL-IP"),
                   Column("PORTS"), AGE)


_LB_WIDTH = 16  # kubectl shortens a long load-balancer list outside -o wide


def service_external_ip(obj: Obj) -> str:
    """EXTERNAL-IP as kubectl prints it for each service type."""
    spec = obj.get("spec") or {}
    stype, external = spec.get("type", "ClusterIP"), list(spec.get("externalIPs") or ())
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if stype == "ExternalName":
        return spec.get("externalName", "")
    if stype != "LoadBalancer":
        return "<unknown>"
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    lb = ",".join(sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""}))
    if len(lb) > _LB_WIDTH:
        lb = lb[:_LB_WIDTH - 3] + "..."
    return ",".join([*(lb.split(",") if lb else ()), *external]) or "<pending>"


def render_service(obj: Obj, now: float) -> Row:
    spec = obj.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or [spec.get("clusterIP") or "<none>"]
    ports = ",".join(
        f"{p.get('port')}" + (f":{p['nodePort']}" if p.get("nodePort") else "")
        + f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or ()) or "<none>"
    return _base(obj, now, (spec.get("type", "ClusterIP"), cluster_ips[0],
                            service_external_ip(obj), ports), ("", "", "", ""))


EVENT_COLUMNS = (NS, Column("LAST SEEN", numeric=True), Column("TYPE"), Column("REASON"),
                 Column("OBJECT"), Column("COUNT", numeric=True), Column("MESSAGE"))


def event_last_seen(obj: Obj) -> float:
    """LAST SEEN as kubectl picks it: the series' last observation, the last timestamp, the
    first one, the event time (newer events set only that); epoch seconds, 0 if none."""
    series = obj.get("series") or {}
    return parse_time(series.get("lastObservedTime") or obj.get("lastTimestamp")
                      or obj.get("firstTimestamp") or obj.get("eventTime"))


def render_event(obj: Obj, now: float) -> Row:
    meta = obj["metadata"]
    involved = obj.get("involvedObject") or {}
    last = event_last_seen(obj)
    etype = obj.get("type", "")
    message = (obj.get("message") or "").strip().replace("\n", " ")
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    series = obj.get("series")
    count = int(series.get("count") or 0) + 1 if series else int(obj.get("count") or 1)
    cells = (meta.get("namespace", ""), human_age(now - last) if last else "<unknown>",
             etype, obj.get("reason", ""), target, str(count), message)
    return Row(uid=meta["uid"], name=meta["name"], namespace=meta.get("namespace", ""),
               cells=cells, labels=meta.get("labels") or {},
               sort_keys=("", -last, "", "", "", count, ""),
               status="warn" if etype == "Warning" else "")


PVC_COLUMNS = (NS, NAME, Column("STATUS"), Column("VOLUME"), Column("CAPACITY", numeric=True),
               Column("ACCESS MODES"), Column("STORAGECLASS"), AGE)

BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"  # wins over storageClassName
# kubectl's order, whatever order the claim lists them in
_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
          "ReadWriteOncePod": "RWOP"}


def access_modes(modes: list[str] | None) -> str:
    """``RWO,ROX``: kubectl's short names, in kubectl's order, each once."""
    held = set(modes or ())
    return ",".join(short for mode, short in _MODES.items() if mode in held)


def render_pvc(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else status.get("phase", "")
    cap = modes = ""
    if spec.get("volumeName"):  # an unbound claim has neither, whatever it asked for
        cap = (status.get("capacity") or {}).get("storage", "")
        modes = access_modes(status.get("accessModes"))
    annotations = obj["metadata"].get("annotations") or {}
    storage_class = annotations.get(BETA_STORAGE_CLASS, spec.get("storageClassName") or "")
    return _base(obj, now, (phase, spec.get("volumeName", ""), cap, modes, storage_class),
                 ("", "", quantity(cap), "", ""),
                 "ok" if phase == "Bound" else ("error" if phase == "Lost" else "warn"))


CONFIGMAP_COLUMNS = (NS, NAME, Column("DATA", numeric=True), AGE)


def render_configmap(obj: Obj, now: float) -> Row:
    n = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return _base(obj, now, (str(n),), (n,))


SECRET_COLUMNS = (NS, NAME, Column("TYPE"), Column("KEYS"), AGE)


def render_secret(obj: Obj, now: float) -> Row:
    """Names and keys only: a secret's values never enter a row."""
    keys = sorted((obj.get("data") or {}).keys() | (obj.get("stringData") or {}).keys())
    return _base(obj, now, (obj.get("type", ""), ",".join(keys)), ("", len(keys)))


CUSTOM_COLUMNS = (NS, NAME, Column("READY"), Column("STATUS"), AGE)
CLUSTER_CUSTOM_COLUMNS = (NAME, Column("READY"), Column("STATUS"), AGE)


def render_custom(obj: Obj, now: float, namespaced: bool = True) -> Row:
    """Any custom resource: the Ready condition and its reason, as most operators report."""
    status = obj.get("status") or {}
    ready = condition(status, "Ready") if isinstance(status, dict) else ""
    reason = ""
    for cond in (status.get("conditions") or ()) if isinstance(status, dict) else ():
        if cond.get("type") == "Ready":
            reason = cond.get("reason") or cond.get("message") or ""
    if not reason and isinstance(status, dict):
        reason = str(status.get("phase") or status.get("state") or "")
    state = {"True": "ok", "False": "error"}.get(ready, "")
    return _base(obj, now, (ready or "-", reason), ("", ""), state, namespaced=namespaced)

