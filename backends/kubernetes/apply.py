"""Server-side apply: which served kind a manifest means, and the apply request itself.

A manifest names ``apiVersion`` and ``kind``; the request needs the resource's plural name
and scope, which only discovery knows. Kinds discovery already found answer at once; a group
version it did not read (a custom resource in a version other than its preferred one, a
kind nobody lists) is read once from the server's discovery and remembered.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mlops_tui.backends.errors import BackendError, NotFound
from mlops_tui.backends.kinds import BY_NAME, custom_kind
from mlops_tui.backends.kubernetes.informer import object_path
from mlops_tui.backends.kubernetes.transport import Transport
from mlops_tui.backends.models import KindInfo
from mlops_tui.backends.names import quote_segment

log = logging.getLogger(__name__)

APPLY_PATCH = "application/apply-patch+yaml"


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version


class ServedKinds:
    """(apiVersion, kind) → the kind as this server serves it, from discovery."""

    def __init__(self, transport: Transport, known: list[KindInfo]) -> None:
        self._transport = transport
        self._kinds = {(k.group, k.version, k.kind): k for k in known}
        self._read: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def kind_of(self, api_version: str, kind: str) -> KindInfo | None:
        """The served kind, or None when the server serves no ``kind`` in ``api_version``.

        May read one group version's discovery document (blocking): call it off the
        event loop.
        """
        group, version = split_api_version(api_version)
        key = (group, version, kind)
        with self._lock:
            if key in self._kinds or (group, version) in self._read:
                return self._kinds.get(key)
        learned = self._discover(group, version)
        with self._lock:
            self._read.add((group, version))
            for info in learned:
                self._kinds.setdefault((info.group, info.version, info.kind), info)
            return self._kinds.get(key)

    def _discover(self, group: str, version: str) -> list[KindInfo]:
        path = (f"/apis/{quote_segment(group)}/{quote_segment(version)}" if group
                else f"/api/{quote_segment(version)}")
        try:
            resources = self._transport.get(path).get("resources")
        except NotFound:  # the group version is not served at all
            return []
        except BackendError as exc:
            log.warning("discovery of %s failed: %s", path, exc)
            raise
        found = []
        for res in resources if isinstance(resources, list) else ():
            if not isinstance(res, dict) or not isinstance(res.get("name"), str) \
                    or "/" in res["name"] or not isinstance(res.get("kind"), str):
                continue  # subresources (deployments/scale) are not what manifests name
            spec = BY_NAME.get((group, res["name"]))
            found.append(spec.info(version) if spec else custom_kind(
                res["name"], res["kind"], group, version, bool(res.get("namespaced")),
                tuple(res.get("shortNames") or ()), res.get("singularName") or ""))
        return found


def apply(transport: Transport, kind: KindInfo, manifest: dict[str, Any], *,
          namespace: str, field_manager: str, dry_run: bool, force: bool) -> dict[str, Any]:
    """One server-side apply (PATCH application/apply-patch+yaml; JSON is valid YAML).

    Returns:
        The object the server answered with (with ``dry_run``: as it would be).
    """
    query: list[tuple[str, Any]] = [("fieldManager", field_manager)]
    if force:
        query.append(("force", "true"))
    if dry_run:
        query.append(("dryRun", "All"))
    path = object_path(kind, namespace, manifest["metadata"]["name"])
    return transport.json("PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH)
