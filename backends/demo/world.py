"""The simulated cluster: Kubernetes-shaped objects, indexed, versioned, observable.

A :class:`World` is what an API server plus etcd would hold for one context. It assigns
what the server assigns (uid, resourceVersion, creationTimestamp, managedFields), keeps an
aggregated event log, garbage-collects dependents, and tells listeners about every change
so row caches update one object at a time. The controllers that make it move live in
``controllers.py``; the first contents in ``contents.py``.

Everything random comes from one ``random.Random`` seeded by (seed, context), and every
time from one injectable clock, so two worlds built alike are identical.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlops_tui.backends.demo.objects import iso
from mlops_tui.backends.render._common import Obj, parse_time

Listener = Callable[[str, Obj, bool], None]  # (kind plural, object, deleted)

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
EVENT_TTL = 3600.0
EVENT_CAP = 300


class World:
    """The objects of one simulated cluster. Guard compound changes with ``lock``."""

    def __init__(self, name: str, seed: int, clock: Callable[[], float],
                 instant: bool) -> None:
        self.name = name
        self.lock = threading.RLock()
        self.rng = random.Random(f"{seed}:{name}")
        self.instant = instant  # frozen worlds: pods start and go at once, no waiting
        self.ticks = 0
        self.faults: dict[tuple[str, str], str] = {}  # (namespace, app label) -> fault
        self.starting: dict[str, int] = {}  # pod uid -> tick it becomes Running
        self.terminating: dict[str, int] = {}  # pod uid -> tick it is gone
        self.ip_next: dict[str, int] = {}
        self._clock = clock
        self._at: float | None = None
        self._objects: dict[str, dict[str, Obj]] = {}
        self._names: dict[tuple[str, str, str], str] = {}
        self._rv = 1000
        self._listeners: list[Listener] = []

    # -- time and names -------------------------------------------------------------------
    def time(self) -> float:
        return self._clock() if self._at is None else self._at

    @contextmanager
    def at(self, t: float) -> Iterator[None]:
        """Make ``time()`` answer ``t`` while building history."""
        saved, self._at = self._at, t
        try:
            yield
        finally:
            self._at = saved

    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(_ALPHABET) for _ in range(n))

    @staticmethod
    def stable_hash(text: str, n: int = 10) -> str:
        digest = hashlib.sha256(text.encode()).digest()
        return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])

    # -- reading --------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        return list(self._objects)

    def serve(self, kind: str) -> None:
        """Make the server know ``kind`` even while it holds no object of it."""
        self._objects.setdefault(kind, {})

    def list(self, kind: str, namespace: str = "") -> list[Obj]:
        objs = self._objects.get(kind, {}).values()
        if not namespace:
            return list(objs)
        return [o for o in objs if o["metadata"].get("namespace") == namespace]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        uid = self._names.get((kind, namespace, name))
        return self._objects[kind][uid] if uid else None

    def by_uid(self, kind: str, uid: str) -> Obj | None:
        return self._objects.get(kind, {}).get(uid)

    def owned_by(self, kind: str, owner_uid: str) -> list[Obj]:
        return [o for o in self._objects.get(kind, {}).values()
                if any(r.get("uid") == owner_uid
                       for r in o["metadata"].get("ownerReferences") or ())]

    def events_for(self, uid: str) -> list[Obj]:
        evs = [e for e in self.list("events") if e["involvedObject"].get("uid") == uid]
        return sorted(evs, key=lambda e: parse_time(e.get("lastTimestamp")))

    # -- writing --------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, kind: str, obj: Obj, deleted: bool) -> None:
        for listener in self._listeners:
            listener(kind, obj, deleted)

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def create(self, kind: str, obj: Obj, manager: str = "kube-controller-manager") -> Obj:
        meta = obj["metadata"]
        meta["uid"] = self.new_uid()
        meta.setdefault("creationTimestamp", iso(self.time()))
        meta.setdefault("generation", 1)
        meta["managedFields"] = [{
            "manager": manager, "operation": "Update", "apiVersion": obj.get("apiVersion"),
            "time": meta["creationTimestamp"], "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}}}]
        self._bump(obj)
        self._objects.setdefault(kind, {})[meta["uid"]] = obj
        self._names[(kind, meta.get("namespace", ""), meta["name"])] = meta["uid"]
        self._emit(kind, obj, False)
        return obj

    def update(self, kind: str, obj: Obj, spec_changed: bool = False) -> None:
        self._bump(obj)
        if spec_changed:
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        self._emit(kind, obj, False)

    def set_status(self, kind: str, obj: Obj, status: Obj) -> bool:
        """Store ``status`` when it differs from the current one; True when it did."""
        if obj.get("status") == status:
            return False
        obj["status"] = status
        self.update(kind, obj)
        return True

    def remove(self, kind: str, obj: Obj) -> None:
        """Delete ``obj`` and, as the garbage collector would, everything it owns."""
        meta = obj["metadata"]
        if self._objects.get(kind, {}).pop(meta["uid"], None) is None:
            return
        self._names.pop((kind, meta.get("namespace", ""), meta["name"]), None)
        self.starting.pop(meta["uid"], None)
        self.terminating.pop(meta["uid"], None)
        self._emit(kind, obj, True)
        for dep_kind in list(self._objects):
            for dependent in self.owned_by(dep_kind, meta["uid"]):
                self.remove(dep_kind, dependent)

    # -- events ---------------------------------------------------------------------------
    def event(self, obj: Obj, etype: str, reason: str, message: str, *,
              component: str = "kubelet", host: str = "", count: int = 1,
              first: float | None = None) -> Obj:
        """Record an event about ``obj``; a repeat of the same one bumps its count."""
        meta = obj["metadata"]
        now = iso(self.time())
        for ev in self.list("events"):
            if (ev["involvedObject"].get("uid") == meta["uid"] and ev["reason"] == reason
                    and ev["message"] == message):
                ev["count"] = int(ev.get("count") or 1) + count
                ev["lastTimestamp"] = now
                self.update("events", ev)
                return ev
        ns = meta.get("namespace") or "default"
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{self.rng.getrandbits(64):016x}",
                         "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta["name"], "uid": meta["uid"],
                               **({"namespace": meta["namespace"]}
                                  if meta.get("namespace") else {})},
            "reason": reason, "message": message, "type": etype,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": iso(first) if first is not None else now,
            "lastTimestamp": now, "count": count,
            "reportingComponent": component, "reportingInstance": host,
        }
        return self.create("events", ev, manager=component)

    def prune_events(self) -> None:
        """Drop events older than an hour (the API server's TTL) and keep at most a cap."""
        now = self.time()
        evs = sorted(self.list("events"), key=lambda e: parse_time(e.get("lastTimestamp")))
        for i, ev in enumerate(evs):
            if now - parse_time(ev.get("lastTimestamp")) > EVENT_TTL or len(evs) - i > EVENT_CAP:
                self.remove("events", ev)
