"""The demo backend: every capability of a cluster backend, served from a simulated cluster.

Rows come from the same pure renderers as the real backend's, so demo screens look like
real ones. Each world change reaches the row caches one object at a time (upsert/delete),
exactly as a watch event would.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from mlops_tui.backends.cache import RowStore
from mlops_tui.backends.demo import controllers
from mlops_tui.backends.demo import pods as kubelet
from mlops_tui.backends.demo.contents import CONTEXTS, build
from mlops_tui.backends.demo.objects import iso
from mlops_tui.backends.demo.provision import DemoProvisioner, DemoState, demo_preflight
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    Invalid,
    NotFound,
    ReadOnlyError,
    UnsupportedError,
)
from mlops_tui.backends.kinds import (
    BUILTIN_KINDS,
    KindIndex,
    columns_for,
    custom_kind,
    gpu_join_for,
    renderer_for,
    spec_for,
)
from mlops_tui.backends.labels import parse_selector
from mlops_tui.backends.models import (
    BackendSettings,
    ClusterInfo,
    ContextInfo,
    KindInfo,
    ResourceRef,
    Row,
    Verb,
)
from mlops_tui.backends.names import check_namespace
from mlops_tui.backends.render._common import Obj

if TYPE_CHECKING:  # the log simulator loads on first use: the first screen shows no log
    from mlops_tui.backends.demo import logs

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = "demo-gpu-cluster"
USER = "demo-admin"
ISVC = custom_kind("inferenceservices", "InferenceService", "serving.kserve.io", "v1beta1",
                   True, singular="inferenceservice")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# where a session starts when no namespace is asked for: all of them, so a newcomer lands
# on the whole GPU cluster (inference pods, GPU operator, monitoring), not on `default`
START_NAMESPACE = ""


class DemoBackend:
    """A sandbox cluster that changes over time; deterministic with a seed, a clock and
    ``frozen=True`` (no ticking: pods start and go at once, nothing changes by itself)."""

    name = "demo"

    def __init__(self, settings: BackendSettings | None = None, *, seed: int = 0,
                 now: Callable[[], float] | None = None, frozen: bool = False,
                 tick_interval: float = 1.0, log_interval: float = 0.5) -> None:
        self.settings = settings or BackendSettings()
        self.readonly = self.settings.readonly
        self.frozen = frozen
        self.now: Callable[[], float] = now or time.time
        self._seed = seed
        self._tick_interval, self._log_interval = tick_interval, log_interval
        wanted = self.settings.context
        self._context = wanted if wanted in CONTEXTS else DEFAULT_CONTEXT
        self._namespace = "" if self.settings.all_namespaces else (
            self.settings.namespace or START_NAMESPACE)
        self._worlds: dict[str, World] = {}
        self._stores: dict[tuple[str, str, str], RowStore] = {}
        self._index: tuple[str, KindIndex] | None = None
        self._stop = threading.Event()
        self._build_lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._provisioned: dict[str, DemoState] = {}  # the demo's clusters, this session

    # -- the world ------------------------------------------------------------------------
    @property
    def world(self) -> World:
        """The simulated cluster of the current context (built on first use)."""
        context = self._context
        world = self._worlds.get(context)
        if world is None:
            with self._build_lock:  # the ticker may ask at the same moment
                world = self._worlds.get(context)
                if world is None:
                    world = World(context, self._seed, self.now, instant=self.frozen)
                    build(world, CONTEXTS[context])
                    world.add_listener(
                        lambda kind, obj, gone: self._on_change(world, kind, obj, gone))
                    self._worlds[context] = world
        return world

    def tick(self, count: int = 1) -> None:
        """Advance the simulation ``count`` steps now (tests; works when frozen too)."""
        for _ in range(count):
            controllers.tick(self.world)

    def _run_ticker(self) -> None:
        while not self._stop.wait(self._tick_interval):
            try:
                controllers.tick(self.world)
            except Exception:  # a bug in the simulation must not kill the sandbox
                log.exception("demo simulation tick failed")

    # -- ClusterBackend -------------------------------------------------------------------
    async def connect(self) -> ClusterInfo:
        wanted = self.settings.context
        if wanted and wanted not in CONTEXTS:
            raise self._unknown_context(wanted)
        _checked(self._namespace)
        _ = self.world
        if not self.frozen and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._run_ticker, name="demo-ticker",
                                            daemon=True)
            self._ticker.start()
        return self.info()

    def info(self) -> ClusterInfo:
        spec = CONTEXTS[self._context]
        return ClusterInfo(self._context, spec.cluster, USER, spec.server, spec.version,
                           self._namespace)

    def kinds(self) -> Sequence[KindInfo]:
        builtin = [spec.info() for spec in BUILTIN_KINDS]
        return builtin + ([ISVC] if ISVC.name in self.world.kinds() else [])

    def resolve_kind(self, alias: str) -> KindInfo | None:
        if self._index is None or self._index[0] != self._context:
            self._index = (self._context, KindIndex(list(self.kinds())))
        return self._index[1].resolve(alias)

    def cache(self, kind: KindInfo, namespace: str) -> RowStore:
        ns = _checked(namespace) if kind.namespaced else ""
        key = (kind.group, kind.name, ns)
        store = self._stores.get(key)
        if store is None:
            store = RowStore(kind, ns, columns_for(kind))
            with self.world.lock:
                self._stores[key] = store
                self._fill(store)
        return store

    def set_namespace(self, namespace: str) -> None:
        self._namespace = _checked(namespace)

    # -- provisioning (ProvisionerSource): simulated, nothing installed ------------------
    def provisioner(self, request: object) -> DemoProvisioner:
        return DemoProvisioner(request, self._provisioned, delay=0.0 if self.frozen else 0.2)

    def preflight(self, request: object) -> AsyncIterator[object]:
        return demo_preflight(request, asyncio.sleep, 0.0 if self.frozen else 0.1)

    def clusters(self) -> list[DemoState]:
        return [s for s in self._provisioned.values() if s.phase != "destroyed"]

    async def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            await asyncio.to_thread(self._ticker.join, 5)
            self._ticker = None

    # -- rows -----------------------------------------------------------------------------
    def _served(self, kind: KindInfo) -> bool:
        return spec_for(kind) is not None or kind.name in self.world.kinds()

    def _render(self, kind: KindInfo, obj: Obj) -> Row:
        joined = gpu_join_for(kind)
        if joined is not None:
            return joined(obj, self.now(), kubelet.gpu_requested(self.world,
                                                                 obj["metadata"]["name"]))
        return renderer_for(kind)(obj, self.now())

    def _fill(self, store: RowStore) -> None:
        """Load a whole store from the world (first use, or a new context): a reset."""
        kind = store.kind
        if not self._served(kind):
            store.replace([])
            store.set_error(f'the server doesn\'t have a resource type "{kind.name}"')
            return
        store.replace(self._render(kind, obj) for obj in self.world.list(kind.name,
                                                                           store.namespace))

    def _put(self, store: RowStore, obj: Obj) -> None:
        row = self._render(store.kind, obj)
        if store.get(row.uid) != row:
            store.upsert(row)

    def _on_change(self, world: World, kind: str, obj: Obj, deleted: bool) -> None:
        if world is not self._worlds.get(self._context):
            return
        ns = obj["metadata"].get("namespace", "")
        for (_, name, store_ns), store in list(self._stores.items()):
            if name != kind or (store_ns and store_ns != ns):
                continue
            if deleted:
                store.delete(obj["metadata"]["uid"])
            else:
                self._put(store, obj)
        node = obj["spec"].get("nodeName") if kind == "pods" else None
        if node and (node_obj := world.get("nodes", "", node)) is not None:
            for store in list(self._stores.values()):
                if gpu_join_for(store.kind) is not None:  # node rows show pods' GPU requests
                    self._put(store, node_obj)

    # -- lookups --------------------------------------------------------------------------
    def _find(self, ref: ResourceRef) -> Obj:
        ns = _checked(ref.namespace) if ref.kind.namespaced else ""
        obj = self.world.get(ref.kind.name, ns, ref.name) if self._served(ref.kind) else None
        if obj is None:
            where = f" in namespace {ns!r}" if ns else ""
            raise NotFound(f'{ref.kind.display} "{ref.name}" not found{where}')
        return obj

    def _guard(self, ref: ResourceRef, verb: Verb) -> Obj:
        if self.readonly:
            raise ReadOnlyError(f"cannot {verb.value} {ref}: the session is read-only",
                                hint="start without --readonly to change the demo cluster")
        if verb not in ref.kind.verbs:
            raise UnsupportedError(f"{ref.kind.display} do not support {verb.value}")
        return self._find(ref)

    def _pod_of(self, ref: ResourceRef) -> Obj:
        """The pod itself, or the first live pod of a workload (as ``kubectl logs deploy/x``)."""
        obj = self._find(ref)
        if obj["kind"] == "Pod":
            return obj
        owners = {obj["metadata"]["uid"]} | {
            rs["metadata"]["uid"] for rs in self.world.owned_by("replicasets",
                                                                obj["metadata"]["uid"])}
        pods = sorted((p for uid in owners for p in self.world.owned_by("pods", uid)),
                      key=lambda p: (not kubelet.active(p), p["metadata"]["name"]))
        if not pods:
            raise NotFound(f"{ref} has no pods")
        return pods[0]

    # -- ObjectReader ---------------------------------------------------------------------
    async def get_object(self, ref: ResourceRef) -> Obj:
        with self.world.lock:
            return copy.deepcopy(self._find(ref))

    async def list_objects(self, kind: KindInfo, namespace: str, *, label_selector: str = "",
                           field_selector: str = "") -> list[Obj]:
        requirements, problem = parse_selector(label_selector) if label_selector else ((), "")
        if problem:
            raise Invalid(f"invalid label selector: {problem}")
        fields = _field_terms(field_selector)
        with self.world.lock:
            objs = self.world.list(kind.name, _checked(namespace) if kind.namespaced else "") if (
                self._served(kind)) else []
            return [copy.deepcopy(o) for o in objs
                    if all(r.matches(o["metadata"].get("labels") or {}) for r in requirements)
                    and all(_field(o, path) == value for path, value in fields)]

    # -- Describer ------------------------------------------------------------------------
    # the renderers (and yaml) load on first use: the first screen shows neither
    async def describe(self, ref: ResourceRef) -> str:
        from mlops_tui.backends.demo import describe

        with self.world.lock:
            return describe.describe(self.world, self._find(ref), self.now())

    async def yaml(self, ref: ResourceRef) -> str:
        from mlops_tui.backends.render.describe import to_yaml

        with self.world.lock:
            return to_yaml(self._find(ref))

    # -- LogSource ------------------------------------------------------------------------
    async def containers(self, ref: ResourceRef) -> list[str]:
        with self.world.lock:
            spec = self._pod_of(ref)["spec"]
            return [c["name"] for c in (*spec.get("containers", ()),
                                        *spec.get("initContainers", ()))]

    def logs(self, ref: ResourceRef, *, container: str | None = None, follow: bool = True,
             previous: bool = False, tail_lines: int | None = 200) -> AsyncIterator[str]:
        from mlops_tui.backends.demo import logs

        with self.world.lock:
            pod = self._pod_of(ref)
            names = [c["name"] for c in pod["spec"]["containers"]]
            name = container or names[0]
            if name not in names:
                raise NotFound(f'container "{name}" is not valid for pod '
                               f'"{pod["metadata"]["name"]}"; choose one of: {names}')
            run = logs.current_run(pod, name, self.now(), previous)
            lines = logs.history(run, self.now(), tail_lines)
        live = follow and not previous and run.end is None
        return self._stream(pod["metadata"]["uid"], run, lines, live)

    async def _stream(self, uid: str, run: logs.Run, lines: list[str],
                      live: bool) -> AsyncIterator[str]:
        from mlops_tui.backends.demo import logs

        limit = self.settings.log_line_max
        for line in lines:
            yield line[:limit]
        index = 0
        while live:
            await asyncio.sleep(self._log_interval)
            with self.world.lock:  # never held across a yield
                pod = self.world.by_uid("pods", uid)
                try:
                    now_run = logs.current_run(pod, run.container, self.now(), False) \
                        if pod is not None else None
                except BackendError:
                    now_run = None
            if now_run is None or now_run.start != run.start or now_run.end is not None:
                return  # the pod went away, or the container stopped or restarted
            for line in logs.live_line(run, index, self.now()):
                yield line[:limit]
            index += 1

    # -- Scaler, Restarter, Deleter -------------------------------------------------------
    async def scale(self, ref: ResourceRef, replicas: int) -> None:
        with self.world.lock:
            obj = self._guard(ref, Verb.SCALE)
            if replicas < 0:
                raise UnsupportedError(f"cannot scale {ref} to {replicas}: replicas must be >= 0")
            obj["spec"]["replicas"] = int(replicas)
            self.world.update(ref.kind.name, obj, spec_changed=True)
            controllers.reconcile(self.world)

    async def restart(self, ref: ResourceRef) -> None:
        with self.world.lock:
            world, obj = self.world, self._guard(ref, Verb.RESTART)
            tpl_meta = obj["spec"]["template"].setdefault("metadata", {})
            tpl_meta.setdefault("annotations", {})[RESTARTED_AT] = iso(world.time())
            world.update(ref.kind.name, obj, spec_changed=True)
            if obj["kind"] != "Deployment":  # a deployment rolls through a new replicaset
                for pod in world.owned_by("pods", obj["metadata"]["uid"]):
                    kubelet.delete_pod(world, pod)
            controllers.reconcile(world)

    async def delete(self, ref: ResourceRef, *, force: bool = False) -> None:
        with self.world.lock:
            world, obj = self.world, self._guard(ref, Verb.DELETE)
            if obj["kind"] == "Pod":
                kubelet.delete_pod(world, obj, force=force)
            elif obj["kind"] == "Namespace":
                for kind in world.kinds():
                    for item in world.list(kind, ref.name):
                        world.remove(kind, item)
                world.remove("namespaces", obj)
            else:
                world.remove(ref.kind.name, obj)
            controllers.reconcile(world)

    # -- NodeOperator ---------------------------------------------------------------------
    async def cordon(self, ref: ResourceRef, unschedulable: bool = True) -> None:
        with self.world.lock:
            controllers.cordon(self.world, self._guard(ref, Verb.CORDON), unschedulable)
            controllers.reconcile(self.world)

    def drain(self, ref: ResourceRef) -> AsyncIterator[str]:
        with self.world.lock:
            node = self._guard(ref, Verb.DRAIN)
        return self._drain(node)

    async def _drain(self, node: Obj) -> AsyncIterator[str]:
        name, world = node["metadata"]["name"], self.world
        with world.lock:
            was = bool(node["spec"].get("unschedulable"))
            controllers.cordon(world, node, True)
            pods = [p for p in kubelet.pods_on(world, name) if kubelet.active(p)]
        yield f"node/{name} {'already cordoned' if was else 'cordoned'}"
        managed = [p for p in pods if any(r["kind"] == "DaemonSet" for r in
                                          p["metadata"].get("ownerReferences") or ())]
        mirror = [p for p in pods if "kubernetes.io/config.mirror" in
                  (p["metadata"].get("annotations") or {})]
        if managed:
            yield "Warning: ignoring DaemonSet-managed Pods: " + ", ".join(
                f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in managed)
        evict = [p for p in pods if p not in managed and p not in mirror]
        for pod in evict:
            yield f"evicting pod {pod['metadata']['namespace']}/{pod['metadata']['name']}"
            with world.lock:
                world.event(pod, "Normal", "Evicted", "Pod evicted by drain",
                            component="kubectl")
                kubelet.delete_pod(world, pod)
            await asyncio.sleep(0)
        with world.lock:
            controllers.reconcile(world)
        for pod in evict:
            deadline = time.monotonic() + 30
            while world.by_uid("pods", pod["metadata"]["uid"]) is not None \
                    and time.monotonic() < deadline:
                await asyncio.sleep(min(self._tick_interval, 0.1))
            yield f"pod/{pod['metadata']['name']} evicted"
        yield f"node/{name} drained"

    # -- ContextSwitcher ------------------------------------------------------------------
    def contexts(self) -> list[ContextInfo]:
        return [ContextInfo(name, spec.cluster, USER, START_NAMESPACE, name == self._context)
                for name, spec in CONTEXTS.items()]

    def _unknown_context(self, name: str) -> ConfigError:
        return ConfigError(f"unknown context {name!r}; contexts: {', '.join(CONTEXTS)}")

    async def use_context(self, name: str) -> ClusterInfo:
        if name not in CONTEXTS:
            raise self._unknown_context(name)
        self._context = name
        if self._namespace:
            self._namespace = "default"
        with self.world.lock:
            for store in list(self._stores.values()):
                self._fill(store)
        return self.info()


def create_backend(settings: BackendSettings, **options: object) -> DemoBackend:
    """The entry point ``mlops_tui.backends: demo``; ``options`` go to :class:`DemoBackend`
    (``seed``, ``now``, ``frozen``, ``tick_interval``, ``log_interval``)."""
    return DemoBackend(settings, **options)  # type: ignore[arg-type]


def _checked(namespace: str) -> str:
    """``namespace`` ("" = all) when the API would accept it: the demo refuses what a real
    cluster refuses, so a session that works here works there.

    Raises:
        ConfigError: not a valid namespace name.
    """
    return check_namespace(namespace) if namespace else ""


def _field_terms(selector: str) -> list[tuple[str, str]]:
    """``a.b=x,c=y`` as (path, value) pairs: the equality field selectors the API serves."""
    terms = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        path, sep, value = term.partition("=")
        if not sep or value.startswith("=") or path.endswith("!"):
            raise Invalid(f"the demo serves field selectors of the form path=value, not {term!r}")
        terms.append((path.strip(), value.strip()))
    return terms


def _field(obj: Obj, path: str) -> str:
    value: object = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)
