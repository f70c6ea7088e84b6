"""The Kubernetes backend's related-objects lookup for describe: events, owned pods and
replica sets, a node's pods, a service's pods, each one list request to the API server.

Called from a worker thread (describe runs off the UI); every answer is best effort: a list
the user may not read (403) or a server hiccup leaves that part of the describe empty
rather than failing it, as kubectl does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.kinds import KindIndex
from mlops_tui.backends.kubernetes.informer import collection_path
from mlops_tui.backends.render._common import Obj
from mlops_tui.backends.render.describe_workloads import selector_text
from mlops_tui.backends.render.related import is_owned_by

log = logging.getLogger(__name__)
Get = Callable[[str, list[tuple[str, Any]]], Any]


class ApiRelated:
    """Answers the describe renderer with list requests (field and label selectors)."""

    def __init__(self, get: Get, index: KindIndex) -> None:
        self._get = get
        self._index = index

    def _list(self, kind: str, namespace: str, query: list[tuple[str, Any]]) -> list[Obj]:
        info = self._index.resolve(kind)
        if info is None:
            return []
        try:
            body = self._get(collection_path(info, namespace if info.namespaced else ""), query)
        except BackendError as e:  # a describe without this part still helps
            log.debug("describe: no %s: %s", kind, e)
            return []
        items = body.get("items") if isinstance(body, dict) else None
        return [o for o in items or () if isinstance(o, dict)]

    def events(self, obj: Obj) -> Sequence[Obj]:
        meta = obj.get("metadata") or {}
        return self._list("events", meta.get("namespace", ""),
                          [("fieldSelector", f"involvedObject.uid={meta.get('uid', '')}")])

    def owned(self, obj: Obj, kind: str) -> Sequence[Obj]:
        meta = obj.get("metadata") or {}
        selector = (obj.get("spec") or {}).get("selector")
        query = [("labelSelector", selector_text(selector))] if selector else []
        return [o for o in self._list(kind, meta.get("namespace", ""), query)
                if is_owned_by(o, obj)]

    def pods_on_node(self, node: str) -> Sequence[Obj]:
        return self._list("pods", "", [("fieldSelector", f"spec.nodeName={node}")])

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> Sequence[Obj]:
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())))]
        return self._list("pods", namespace, query if selector else [])
