"""API discovery: which kinds this server serves, and in which version.

Built-in kinds take the first version of their table row the server serves (CronJob is
``batch/v1`` from 1.21, ``batch/v1beta1`` before); every other listable, watchable resource
(custom resources such as KServe's InferenceService) is offered in its group's preferred
version with the generic renderer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.kinds import BUILTIN_KINDS, BY_NAME, custom_kind
from mlops_tui.backends.kubernetes.transport import Transport
from mlops_tui.backends.models import KindInfo

log = logging.getLogger(__name__)

_BUILTIN_GROUPS = {spec.group for spec in BUILTIN_KINDS}


def _resources(transport: Transport, path: str) -> list[dict[str, Any]]:
    try:
        return transport.get(path).get("resources") or []
    except BackendError as exc:  # an aggregated API that is down must not hide the rest
        log.warning("discovery of %s failed: %s", path, exc)
        return []


def discover(transport: Transport) -> list[KindInfo]:
    """All kinds worth a view, built-ins first (in table order), then the rest by name."""
    groups = transport.get("/apis").get("groups") or []
    wanted: dict[tuple[str, str], str] = {("", "v1"): "/api/v1"}
    preferred: dict[str, str] = {}
    for group in groups:
        name = group["name"]
        preferred[name] = (group.get("preferredVersion") or {}).get("version", "")
        versions = [v["version"] for v in group.get("versions") or ()]
        for version in versions if name in _BUILTIN_GROUPS else [preferred[name]]:
            wanted[(name, version)] = f"/apis/{name}/{version}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = dict(zip(wanted, pool.map(lambda p: _resources(transport, p),
                                            wanted.values()), strict=True))
    served: dict[tuple[str, str], set[str]] = {
        key: {r["name"] for r in res} for key, res in fetched.items()}

    kinds: list[KindInfo] = []
    for spec in BUILTIN_KINDS:
        for version in spec.versions:
            if spec.name in served.get((spec.group, version), ()):
                kinds.append(spec.info(version))
                break

    extra: list[KindInfo] = []
    for (group, version), resources in fetched.items():
        if group and version != preferred.get(group):
            continue
        for res in resources:
            name = res["name"]
            verbs = set(res.get("verbs") or ())
            if "/" in name or not {"list", "watch"} <= verbs or (group, name) in BY_NAME:
                continue
            extra.append(custom_kind(name, res.get("kind", name), group, version,
                                     bool(res.get("namespaced")),
                                     tuple(res.get("shortNames") or ()),
                                     res.get("singularName") or ""))
    extra.sort(key=lambda k: (k.group != "", k.name, k.group))
    return kinds + extra
