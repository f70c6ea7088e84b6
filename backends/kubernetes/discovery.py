"""API discovery: which kinds this server serves, and in which version.

Built-in kinds take the first version of their table row the server serves (CronJob is
``batch/v1`` from 1.21, ``batch/v1beta1`` before); every other listable, watchable resource
(custom resources such as KServe's InferenceService) is offered in its group's preferred
version with the generic renderer.

Discovery is the first thing a connect reads, so it is also where a server that is not a
Kubernetes API server (a web page, a JSON list, an object of another shape) is told apart:
those answers become :class:`NotKubernetes` errors, never a crash on a missing key.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.kinds import BUILTIN_KINDS, BY_NAME, custom_kind
from mlops_tui.backends.kubernetes.transport import Transport, not_kubernetes
from mlops_tui.backends.models import KindInfo
from mlops_tui.backends.names import quote_segment

log = logging.getLogger(__name__)

_BUILTIN_GROUPS = {spec.group for spec in BUILTIN_KINDS}
CORE = ("", "v1")


def server_version(transport: Transport) -> str:
    """The server's ``gitVersion`` (``/version``), which every API server reports.

    Raises:
        NotKubernetes: the answer is not a version object.
    """
    version = transport.get("/version").get("gitVersion")
    if not isinstance(version, str) or not version:
        raise not_kubernetes(transport.server, "GET /version", "no gitVersion in the answer")
    return version


def _group_versions(transport: Transport) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(group, version) -> discovery path for what is worth reading, and each group's
    preferred version, from the APIGroupList at ``/apis``."""
    groups = transport.get("/apis").get("groups")
    if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str) for g in groups):
        raise not_kubernetes(transport.server, "GET /apis", "no list of API groups")
    wanted: dict[tuple[str, str], str] = {CORE: "/api/v1"}
    preferred: dict[str, str] = {}
    for group in groups:
        name = group["name"]
        preferred[name] = str((group.get("preferredVersion") or {}).get("version", ""))
        versions = [str(v.get("version", "")) for v in group.get("versions") or ()
                    if isinstance(v, dict)]
        for version in versions if name in _BUILTIN_GROUPS else [preferred[name]]:
            if version:
                wanted[(name, version)] = f"/apis/{quote_segment(name)}/{quote_segment(version)}"
    return wanted, preferred


def _resources(transport: Transport, key: tuple[str, str], path: str
               ) -> list[dict[str, Any]]:
    """The resources of one group version. [] when a group's API is down or odd (an
    aggregated API that is down must not hide the rest); the core group must answer."""
    try:
        resources = transport.get(path).get("resources")
    except BackendError as exc:
        if key == CORE:
            raise
        log.warning("discovery of %s failed: %s", path, exc)
        return []
    if not isinstance(resources, list):
        if key == CORE:
            raise not_kubernetes(transport.server, f"GET {path}", "no list of resources")
        log.warning("discovery of %s: no list of resources", path)
        return []
    return [r for r in resources if isinstance(r, dict) and isinstance(r.get("name"), str)]


def discover(transport: Transport) -> list[KindInfo]:
    """All kinds worth a view, built-ins first (in table order), then the rest by name.

    Raises:
        NotKubernetes: ``/apis`` or the core group ``/api/v1`` is not what an API server
            serves (every API server serves both).
        BackendError: those requests failed.
    """
    wanted, preferred = _group_versions(transport)
    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = dict(zip(wanted, pool.map(lambda item: _resources(transport, *item),
                                            wanted.items()), strict=True))
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
