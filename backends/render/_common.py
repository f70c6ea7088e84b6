"""Helpers the pure renderers share: ages, quantities, GPU resources."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mlops_tui.backends.models import Column, format_age

GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"

Obj = dict[str, Any]

# columns most kinds share
NS, NAME = Column("NAMESPACE"), Column("NAME")
AGE = Column("AGE", numeric=True, age=True)


def parse_time(value: str | None) -> float:
    """RFC 3339 from the API (``2024-01-02T03:04:05Z``) to epoch seconds; 0 when absent."""
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


human_age = format_age


def age_of(meta: Obj, now: float | None = None) -> tuple[str, float]:
    """(cell text, sort key) for an object's age; the key is the creation time."""
    created = parse_time(meta.get("creationTimestamp"))
    now = datetime.now(UTC).timestamp() if now is None else now
    return (human_age(now - created) if created else "<unknown>"), created


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5,
}


def quantity(value: Any) -> float:
    """A Kubernetes quantity (``500m``, ``16Gi``, ``2``) as a float; 0 when unparsable."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return 0.0
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def gpu_count(resources: Obj | None) -> tuple[int, dict[str, int]]:
    """Whole GPUs and MIG slices named in a resource map (capacity, requests, limits)."""
    if not resources:
        return 0, {}
    gpus = int(quantity(resources.get(GPU_RESOURCE)))
    mig = {
        key[len("nvidia.com/"):]: int(quantity(val))
        for key, val in resources.items()
        if key.startswith(MIG_PREFIX) and quantity(val) > 0
    }
    return gpus, mig


def pod_gpu_request(spec: Obj) -> tuple[int, dict[str, int]]:
    """GPUs a pod asks for: the sum over containers (limits win; GPUs can't overcommit)."""
    total = 0
    mig: dict[str, int] = {}
    for container in spec.get("containers") or ():
        res = container.get("resources") or {}
        gpus, slices = gpu_count(res.get("limits") or res.get("requests"))
        total += gpus
        for name, n in slices.items():
            mig[name] = mig.get(name, 0) + n
    return total, mig


def gpu_text(gpus: int, mig: dict[str, int]) -> str:
    parts = [str(gpus)] if gpus or not mig else []
    parts += [f"{n}×{name.removeprefix('mig-')}" for name, n in sorted(mig.items())]
    return ",".join(parts)


def mem_text(byte_count: float) -> str:
    if byte_count >= 1024**3:
        return f"{byte_count / 1024**3:.0f}Gi"
    if byte_count >= 1024**2:
        return f"{byte_count / 1024**2:.0f}Mi"
    return f"{byte_count:.0f}"


def condition(status: Obj, ctype: str) -> str:
    """The status ("True"/"False"/"Unknown") of condition ``ctype``, "" when absent."""
    for cond in status.get("conditions") or ():
        if cond.get("type") == ctype:
            return str(cond.get("status", ""))
    return ""
