"""``kubectl describe node``, with the GPUs its pods request. The pods come from the
related-objects lookup (``pods_on_node``)."""

from __future__ import annotations

from mlops_tui.backends.render._common import (
    Obj,
    age_of,
    gpu_count,
    mem_text,
    pod_gpu_request,
    quantity,
)
from mlops_tui.backends.render._layout import NONE, Text, head
from mlops_tui.backends.render.core import node_roles
from mlops_tui.backends.render.related import Related

TERMINATED = ("Succeeded", "Failed")


def pod_requests(spec: Obj, resource: str) -> float:
    """What a pod asks of ``resource``: its containers' sum, or its largest init container
    when that is more (init containers run one at a time, before the others)."""
    def asked(cont: Obj) -> float:
        return quantity(((cont.get("resources") or {}).get("requests") or {}).get(resource))
    total = sum(asked(c) for c in spec.get("containers") or ())
    return max([total, *(asked(c) for c in spec.get("initContainers") or ())])


def cpu_text(cores: float) -> str:
    millis = round(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _percent(used: float, allocatable: float) -> str:
    return f"({int(used / allocatable * 100) if allocatable else 0}%)"


def _taints(spec: Obj) -> str:
    return "\n".join(f"{t.get('key', '')}{'=' + t['value'] if t.get('value') else ''}:"
                     f"{t.get('effect', '')}" for t in spec.get("taints") or ()) or NONE


def _pod_rows(pods: list[Obj], now: float) -> list[tuple[str, ...]]:
    rows = []
    for pod in sorted(pods, key=lambda p: (p["metadata"].get("namespace", ""),
                                           p["metadata"]["name"])):
        spec = pod.get("spec") or {}
        gpus, mig = pod_gpu_request(spec)
        rows.append((pod["metadata"].get("namespace", ""), pod["metadata"]["name"],
                     cpu_text(pod_requests(spec, "cpu")),
                     mem_text(pod_requests(spec, "memory")),
                     str(gpus + sum(mig.values())), age_of(pod["metadata"], now)[0]))
    return rows


def _allocated(out: Text, pods: list[Obj], alloc: Obj) -> None:
    cpu = sum(pod_requests(p.get("spec") or {}, "cpu") for p in pods)
    mem = sum(pod_requests(p.get("spec") or {}, "memory") for p in pods)
    gpus = 0
    for pod in pods:
        whole, mig = pod_gpu_request(pod.get("spec") or {})
        gpus += whole + sum(mig.values())
    whole, mig = gpu_count(alloc)
    out.add("Allocated resources:")
    out.table(("Resource", "Requests"), [
        ("cpu", f"{cpu_text(cpu)} {_percent(cpu, quantity(alloc.get('cpu')))}"),
        ("memory", f"{mem_text(mem)} {_percent(mem, quantity(alloc.get('memory')))}"),
        ("nvidia.com/gpu (incl. MIG)", f"{gpus}/{whole + sum(mig.values())}"),
    ])


def describe_node(out: Text, node: Obj, related: Related, now: float) -> None:
    meta, spec, status = node["metadata"], node.get("spec") or {}, node.get("status") or {}
    out.kv("Name", meta.get("name", ""))
    out.kv("Roles", ",".join(node_roles(meta.get("labels") or {})) or NONE)
    head(out, node, name=False)
    out.kv("Taints", _taints(spec))
    out.kv("Unschedulable", str(bool(spec.get("unschedulable"))).lower())
    out.add("Conditions:")
    out.table(("Type", "Status", "Reason", "Message"), [
        (c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
        for c in status.get("conditions") or ()])
    out.add("Addresses:")
    for addr in status.get("addresses") or ():
        out.kv(addr.get("type", ""), addr.get("address", ""), 2)
    for title in ("capacity", "allocatable"):
        out.add(f"{title.capitalize()}:")
        for key, val in (status.get(title) or {}).items():
            out.kv(key, val, 2)
    out.add("System Info:")
    for key, val in (status.get("nodeInfo") or {}).items():
        out.kv(key[0].upper() + key[1:], val, 2)
    out.kv("PodCIDR", spec.get("podCIDR") or NONE)
    pods = [p for p in related.pods_on_node(meta.get("name", ""))
            if (p.get("status") or {}).get("phase") not in TERMINATED]
    out.add(f"Non-terminated Pods:          ({len(pods)} in total)")
    out.table(("Namespace", "Name", "CPU Requests", "Memory Requests", "GPU Requests", "Age"),
              _pod_rows(pods, now))
    _allocated(out, pods, status.get("allocatable") or {})
