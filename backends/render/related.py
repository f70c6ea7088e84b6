"""What a describe shows beside the object itself, and the lookup each backend supplies.

``kubectl describe`` is more than the object: the events about it, the pods a workload owns,
the pods on a node, a service's endpoints. The describe renderer asks for these through
:class:`Related`; the Kubernetes backend answers from the API, the demo from its world, a
test from recorded JSON. The renderer stays pure and every backend's describe looks alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from mlops_tui.backends.render._common import Obj


class Related(Protocol):
    """Objects related to the one being described. A lookup that fails answers ``[]``:
    a describe without its events is still worth showing."""

    def events(self, obj: Obj) -> Sequence[Obj]:
        """Events whose involvedObject is ``obj``."""
        ...

    def owned(self, obj: Obj, kind: str) -> Sequence[Obj]:
        """Objects of ``kind`` (a plural name: ``pods``, ``replicasets``) that ``obj`` owns."""
        ...

    def pods_on_node(self, node: str) -> Sequence[Obj]:
        """The pods scheduled on ``node``."""
        ...

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> Sequence[Obj]:
        """The pods of ``namespace`` whose labels match ``selector`` (all pods when empty)."""
        ...


class NoRelated:
    """A lookup that knows nothing: describe shows the object alone."""

    def events(self, obj: Obj) -> Sequence[Obj]:
        return []

    def owned(self, obj: Obj, kind: str) -> Sequence[Obj]:
        return []

    def pods_on_node(self, node: str) -> Sequence[Obj]:
        return []

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> Sequence[Obj]:
        return []


def is_owned_by(obj: Obj, owner: Obj) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return any(ref.get("uid") == uid for ref in (obj.get("metadata") or {}).get(
        "ownerReferences") or ())


def matches(labels: Mapping[str, str] | None, selector: Mapping[str, str]) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


class ListedRelated:
    """A lookup over objects already in hand (a world, a cache, recorded JSON), by kind."""

    def __init__(self, objects: Mapping[str, Iterable[Obj]]) -> None:
        self._objects = {kind: list(objs) for kind, objs in objects.items()}

    def _all(self, kind: str) -> list[Obj]:
        return self._objects.get(kind, [])

    def events(self, obj: Obj) -> Sequence[Obj]:
        uid = (obj.get("metadata") or {}).get("uid")
        return [e for e in self._all("events")
                if (e.get("involvedObject") or {}).get("uid") == uid]

    def owned(self, obj: Obj, kind: str) -> Sequence[Obj]:
        return [o for o in self._all(kind) if is_owned_by(o, obj)]

    def pods_on_node(self, node: str) -> Sequence[Obj]:
        return [p for p in self._all("pods") if (p.get("spec") or {}).get("nodeName") == node]

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> Sequence[Obj]:
        return [p for p in self._all("pods")
                if (p.get("metadata") or {}).get("namespace") == namespace
                and matches((p.get("metadata") or {}).get("labels"), selector)]
