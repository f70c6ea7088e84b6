"""The simulated cluster: Kubernetes-shaped objects, indexed, versioned, observable.

A :class:`World` is what an API server plus etcd would hold for one context. It assigns
what the server assigns (uid, resourceVersion, creationTimestamp, managedFields), keeps an
aggregated event log, garbage-collects dependents, and tells listeners about every change
so row caches update one object at a time. The controllers that make it move live in
``controllers.py``; the first contents in ``contents.py``.

Everything random comes from one ``random.Random`` seeded by (seed, context), and every
time from one injectable clock, so two worlds built alike are identical.

Lookups the controllers make per pod (a pod's owner, the pods on a node, an event to bump)
go through secondary indexes kept current on every change, as an informer's indexers are:
scaling to thousands of replicas costs work per pod, not per pod times every pod.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager

from mlops_tui.backends.demo.objects import iso
from mlops_tui.backends.render._common import Obj, parse_time

Listener = Callable[[str, Obj, bool], None]  # (kind plural, object, deleted)
IndexKeys = Callable[[Obj], Iterable[Hashable]]  # the keys an object is filed under

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
EVENT_TTL = 3600.0
EVENT_CAP = 300


def _owner_uids(obj: Obj) -> Iterable[Hashable]:
    return [r.get("uid") for r in obj["metadata"].get("ownerReferences") or ()]


def _involved_uid(event: Obj) -> Iterable[Hashable]:
    return (event["involvedObject"].get("uid"),)


def _event_identity(event: Obj) -> Iterable[Hashable]:
    """What makes a repeat of an event (the recorder bumps its count instead)."""
    return ((event["involvedObject"].get("uid"), event["reason"], event["message"]),)


class _Index:
    """key -> {uid: object} over one kind; an object may be filed under several keys."""

    def __init__(self, keys: IndexKeys) -> None:
        self.keys = keys
        self.buckets: dict[Hashable, dict[str, Obj]] = {}
        self._filed: dict[str, tuple[Hashable, ...]] = {}  # uid -> its keys now

    def put(self, obj: Obj) -> None:
        uid = obj["metadata"]["uid"]
        new = tuple(self.keys(obj))
        old = self._filed.get(uid, ())
        if new == old:
            return  # same buckets; the object itself is shared, so nothing to copy
        self._drop(uid, old)
        for key in new:
            self.buckets.setdefault(key, {})[uid] = obj
        if new:
            self._filed[uid] = new
        else:
            self._filed.pop(uid, None)

    def remove(self, obj: Obj) -> None:
        uid = obj["metadata"]["uid"]
        self._drop(uid, self._filed.pop(uid, ()))

    def _drop(self, uid: str, keys: tuple[Hashable, ...]) -> None:
        for key in keys:
            bucket = self.buckets.get(key)
            if bucket is not None:
                bucket.pop(uid, None)
                if not bucket:
                    del self.buckets[key]


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
        self._indexes: dict[str, dict[str, _Index]] = {}  # kind -> index name -> index
        self._seq: dict[str, int] = {}  # uid -> creation order, for ordered lookups

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

    def count(self, kind: str) -> int:
        return len(self._objects.get(kind, ()))

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        uid = self._names.get((kind, namespace, name))
        return self._objects[kind][uid] if uid else None

    def by_uid(self, kind: str, uid: str) -> Obj | None:
        return self._objects.get(kind, {}).get(uid)

    def indexed(self, kind: str, name: str, keys: IndexKeys, key: Hashable) -> dict[str, Obj]:
        """The objects of ``kind`` filed under ``key`` by the index ``name`` (uid -> object).

        The index is built on first use from ``keys`` (the same function each time) and
        then kept current by every create, update and remove. The answer is live: copy it
        before changing the world while iterating.
        """
        by_name = self._indexes.setdefault(kind, {})
        index = by_name.get(name)
        if index is None:
            with self.lock:
                index = _Index(keys)
                for obj in self._objects.get(kind, {}).values():
                    index.put(obj)
                by_name[name] = index
        return index.buckets.get(key) or {}

    def in_creation_order(self, objs: Iterable[Obj]) -> list[Obj]:
        """``objs`` in the order they were created (the order ``list`` answers in)."""
        seq = self._seq
        return sorted(objs, key=lambda o: seq.get(o["metadata"]["uid"], 0))

    def owned_by(self, kind: str, owner_uid: str) -> list[Obj]:
        """What ``owner_uid`` owns of ``kind``, in creation order."""
        return list(self.indexed(kind, "owner", _owner_uids, owner_uid).values())

    def events_for(self, uid: str) -> list[Obj]:
        evs = self.indexed("events", "involved", _involved_uid, uid).values()
        return sorted(evs, key=lambda e: parse_time(e.get("lastTimestamp")))

    def _file(self, kind: str, obj: Obj) -> None:
        for index in self._indexes.get(kind, {}).values():
            index.put(obj)

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
        self._seq[meta["uid"]] = self._rv
        self._file(kind, obj)
        self._emit(kind, obj, False)
        return obj

    def update(self, kind: str, obj: Obj, spec_changed: bool = False) -> None:
        self._bump(obj)
        if spec_changed:
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        self._file(kind, obj)
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
        self._seq.pop(meta["uid"], None)
        for index in self._indexes.get(kind, {}).values():
            index.remove(obj)
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
        same = self.indexed("events", "identity", _event_identity,
                            (meta["uid"], reason, message))
        for ev in same.values():
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
