"""The GPU-requested join: node rows show how many of their GPUs pods have claimed.

Fed by an all-namespaces pod informer's raw objects; tells the node cache which nodes to
re-render. Only GPU-requesting, non-finished pods are remembered (a tuple each).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from mlops_tui.backends.render._common import pod_gpu_request

_FINISHED = {"Succeeded", "Failed"}


class GpuRequests:
    def __init__(self, on_node_changed: Callable[[str], None]) -> None:
        self._by_pod: dict[str, tuple[str, int]] = {}
        self._by_node: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._on_node_changed = on_node_changed

    def requested(self, node: str) -> int:
        return self._by_node.get(node, 0)

    def pod_seen(self, uid: str, obj: dict[str, Any]) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        node = spec.get("nodeName") or ""
        gpus, mig = pod_gpu_request(spec)
        total = gpus + sum(mig.values())
        active = node and total and status.get("phase") not in _FINISHED
        self._set(uid, (node, total) if active else None)

    def pod_gone(self, uid: str) -> None:
        self._set(uid, None)

    def retain(self, uids: set[str]) -> None:
        """After a relist: pods deleted while the watch was away are gone too."""
        for uid in [u for u in self._by_pod if u not in uids]:
            self._set(uid, None)

    def _set(self, uid: str, value: tuple[str, int] | None) -> None:
        with self._lock:
            old = self._by_pod.get(uid)
            if old == value:
                return
            if old:
                self._by_node[old[0]] -= old[1]
                del self._by_pod[uid]
            if value:
                self._by_pod[uid] = value
                self._by_node[value[0]] += value[1]
        for node in {v[0] for v in (old, value) if v}:
            self._on_node_changed(node)
