"""The Kubernetes backend: official client's auth and pool, watch-fed row caches, actions."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_tui.backends.cache import RowStore
from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    NotFound,
    ReadOnlyError,
    UnsupportedError,
)
from mlops_tui.backends.kinds import (
    BY_NAME,
    GpuJoinRenderer,
    KindIndex,
    columns_for,
    gpu_join_for,
    renderer_for,
)
from mlops_tui.backends.kubernetes import config as kubeconfig
from mlops_tui.backends.kubernetes.apply import ServedKinds
from mlops_tui.backends.kubernetes.apply import apply as apply_manifest
from mlops_tui.backends.kubernetes.discovery import discover, server_version
from mlops_tui.backends.kubernetes.gpu import GpuRequests
from mlops_tui.backends.kubernetes.informer import Informer, collection_path, object_path
from mlops_tui.backends.kubernetes.logs import stream_logs
from mlops_tui.backends.kubernetes.related import ApiRelated
from mlops_tui.backends.kubernetes.transport import MERGE_PATCH, Transport
from mlops_tui.backends.models import (
    BackendSettings,
    ClusterInfo,
    ContextInfo,
    HttpAuth,
    KindInfo,
    ResourceRef,
    Verb,
)
from mlops_tui.backends.names import check_namespace, quote_segment
from mlops_tui.backends.render import describe as describe_text

if TYPE_CHECKING:  # aiohttp loads on the first port-forward, not at start-up
    from mlops_tui.backends.kubernetes.portforward import PodPortForward

log = logging.getLogger(__name__)
T = TypeVar("T")
_PODS = BY_NAME[("", "pods")].info()  # for the paths of pods a workload or node holds


class _Connection:
    """Everything bound to one context; swapped whole on a context switch."""

    def __init__(self, loaded: kubeconfig.LoadedConfig, transport: Transport,
                 version: str, kinds: list[KindInfo]) -> None:
        self.loaded = loaded
        self.transport = transport
        self.version = version
        self.index = KindIndex(kinds)
        self.served = ServedKinds(transport, kinds)  # manifests' apiVersion + kind → kind
        self.informers: dict[tuple[str, str, str], Informer] = {}
        self.gpu: GpuRequests | None = None
        self.nodes: dict[str, dict[str, Any]] = {}  # raw nodes, few, for the GPU join

    def stop(self) -> None:
        for informer in list(self.informers.values()):
            informer.stop(timeout=1.0)
        self.informers.clear()


class KubernetesBackend:
    """Implements ClusterBackend and every capability protocol of backends.protocols."""

    name = "kubernetes"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.readonly = settings.readonly
        self._conn: _Connection | None = None
        self._namespace = ""
        self._lock = threading.Lock()
        self._forwards: list[PodPortForward] = []

    # -- connection -----------------------------------------------------------------------
    def _open(self, context: str | None) -> _Connection:
        loaded = kubeconfig.load(self.settings.kubeconfig, context,
                                 self.settings.request_timeout)
        transport = Transport(loaded.api_client, self.settings.request_timeout)
        return _Connection(loaded, transport, server_version(transport), discover(transport))

    async def connect(self) -> ClusterInfo:
        conn = await asyncio.to_thread(self._open, self.settings.context)
        self._conn = conn
        if self.settings.all_namespaces:
            self._namespace = ""
        else:
            self._namespace = _namespace(self.settings.namespace or conn.loaded.namespace
                                         or "default")
        return self.info()

    @property
    def conn(self) -> _Connection:
        if self._conn is None:
            raise BackendError("not connected")
        return self._conn

    def info(self) -> ClusterInfo:
        conn = self.conn
        return ClusterInfo(context=conn.loaded.context, cluster=conn.loaded.cluster,
                           user=conn.loaded.user, server=conn.loaded.server,
                           version=conn.version, namespace=self._namespace)

    def kinds(self) -> Sequence[KindInfo]:
        return self.conn.index.kinds

    def resolve_kind(self, alias: str) -> KindInfo | None:
        return self.conn.index.resolve(alias)

    def set_namespace(self, namespace: str) -> None:
        self._namespace = _namespace(namespace)

    async def close(self) -> None:
        for forward in list(self._forwards):
            await forward.close()
        if self._conn is not None:
            await asyncio.to_thread(self._conn.stop)

    # -- caches ---------------------------------------------------------------------------
    def cache(self, kind: KindInfo, namespace: str) -> RowStore:
        conn = self.conn
        namespace = _namespace(namespace) if kind.namespaced else ""
        key = (kind.group, kind.name, namespace)
        with self._lock:
            informer = conn.informers.get(key)
            if informer is None:
                informer = self._start_informer(conn, kind, namespace)
            return informer.store

    def _start_informer(self, conn: _Connection, kind: KindInfo, namespace: str,
                        **hooks: Any) -> Informer:
        render = renderer_for(kind)
        joined = gpu_join_for(kind)
        if joined is not None:
            render = self._gpu_join_renderer(conn, kind, joined)
            hooks.setdefault("on_object", lambda uid, obj: conn.nodes.__setitem__(
                obj["metadata"]["name"], obj))
        store = RowStore(kind, namespace, columns_for(kind))
        informer = Informer(conn.transport, kind, namespace, render, store, **hooks)
        conn.informers[(kind.group, kind.name, namespace)] = informer
        informer.start()
        return informer

    def _gpu_join_renderer(self, conn: _Connection, kind: KindInfo, joined: GpuJoinRenderer
                           ) -> Callable[[dict[str, Any], float], Any]:
        """Node rows join the GPUs that pods on them request, from an all-namespaces pod
        watch started alongside (the join re-renders a node when its pods change)."""
        if conn.gpu is None:
            def node_changed(node: str) -> None:
                informer = conn.informers.get((kind.group, kind.name, ""))
                obj = conn.nodes.get(node)
                if informer is not None and obj is not None:
                    informer.store.upsert(joined(obj, time.time(), conn.gpu.requested(node)))

            conn.gpu = GpuRequests(node_changed)
            pods = conn.index.resolve("pods")
            if pods is not None and ("", "pods", "@gpu") not in conn.informers:
                gpu_informer = Informer(
                    conn.transport, pods, "", renderer_for(pods),
                    RowStore(pods, "", columns_for(pods), log_limit=1),
                    on_object=conn.gpu.pod_seen, on_delete=conn.gpu.pod_gone,
                    on_relist=conn.gpu.retain)
                conn.informers[("", "pods", "@gpu")] = gpu_informer
                gpu_informer.start()
        gpu = conn.gpu
        return lambda obj, now: joined(obj, now, gpu.requested(obj["metadata"]["name"]))

    def request_stats(self) -> dict[str, int]:
        """List and watch requests made so far, over every informer (for benchmarks)."""
        informers = list(self.conn.informers.values())
        return {"list_requests": sum(i.list_requests for i in informers),
                "watch_requests": sum(i.watch_requests for i in informers),
                "relists": sum(i.relists for i in informers)}

    # -- helpers --------------------------------------------------------------------------
    def _path(self, ref: ResourceRef, sub: str = "") -> str:
        return object_path(ref.kind, ref.namespace, ref.name, *([sub] if sub else []))

    def _guard(self, verb: Verb, ref: ResourceRef) -> None:
        if self.readonly:
            raise ReadOnlyError(f"read-only mode: {verb.value} of {ref} refused")
        if verb not in ref.kind.verbs:
            raise UnsupportedError(f"{ref.kind.name} do not support {verb.value}")

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _get(self, ref: ResourceRef) -> dict[str, Any]:
        obj = self.conn.transport.get(self._path(ref))
        obj.setdefault("kind", ref.kind.kind)
        obj.setdefault("apiVersion", ref.kind.api_version)
        return obj

    # -- ObjectReader ---------------------------------------------------------------------
    async def get_object(self, ref: ResourceRef) -> dict[str, Any]:
        return await self._call(self._get, ref)

    async def list_objects(self, kind: KindInfo, namespace: str, *, label_selector: str = "",
                           field_selector: str = "") -> list[dict[str, Any]]:
        query: list[tuple[str, Any]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        body = await self._call(self.conn.transport.get,
                                collection_path(kind, namespace if kind.namespaced else ""),
                                query)
        items = (body.get("items") if isinstance(body, dict) else None) or []
        for obj in items:  # list items carry neither; kubectl fills them in the same way
            obj.setdefault("kind", kind.kind)
            obj.setdefault("apiVersion", kind.api_version)
        return items

    # -- Applier --------------------------------------------------------------------------
    def kind_of(self, api_version: str, kind: str) -> KindInfo | None:
        """From discovery; a group version not read yet costs one (blocking) request."""
        return self.conn.served.kind_of(api_version, kind)

    async def apply(self, manifest: dict[str, Any], *, namespace: str, field_manager: str,
                    dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        if self.readonly and not dry_run:
            raise ReadOnlyError(f"read-only mode: apply of {manifest.get('kind')} "
                                f"{(manifest.get('metadata') or {}).get('name')} refused")
        conn = self.conn

        def run() -> dict[str, Any]:
            kind = conn.served.kind_of(str(manifest.get("apiVersion")), str(manifest.get("kind")))
            if kind is None:
                raise ConfigError(f"the cluster serves no kind {manifest.get('kind')} in "
                                  f"{manifest.get('apiVersion')}")
            return apply_manifest(conn.transport, kind, manifest, namespace=namespace,
                                  field_manager=field_manager, dry_run=dry_run, force=force)
        return await self._call(run)

    # -- Describer ------------------------------------------------------------------------
    async def describe(self, ref: ResourceRef) -> str:
        def run() -> str:
            related = ApiRelated(self.conn.transport.get, self.conn.index)
            return describe_text.describe(self._get(ref), related, time.time())
        return await self._call(run)

    async def yaml(self, ref: ResourceRef) -> str:
        return await self._call(lambda: describe_text.to_yaml(self._get(ref)))

    # -- LogSource ------------------------------------------------------------------------
    def _pod_for(self, ref: ResourceRef) -> tuple[str, dict[str, Any]]:
        """The pod whose logs ``ref`` means: itself, or the first pod its selector picks."""
        obj = self._get(ref)
        if ref.kind.kind == "Pod":
            return ref.name, obj
        labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not labels:
            raise NotFound(f"{ref} has no label selector to find its pods")
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = self.conn.transport.get(collection_path(_PODS, ref.namespace),
                                       [("labelSelector", selector)]).get("items") or []
        if not pods:
            raise NotFound(f"{ref} has no pods")
        pods.sort(key=lambda p: ((p.get("status") or {}).get("phase") != "Running",
                                 p["metadata"]["name"]))
        return pods[0]["metadata"]["name"], pods[0]

    async def containers(self, ref: ResourceRef) -> list[str]:
        def run() -> list[str]:
            _, pod = self._pod_for(ref)
            spec = pod.get("spec") or {}
            return [c["name"] for c in (spec.get("containers") or ())] + [
                c["name"] for c in (spec.get("initContainers") or ())]
        return await self._call(run)

    async def logs(self, ref: ResourceRef, *, container: str | None = None,
                   follow: bool = True, previous: bool = False,
                   tail_lines: int | None = 200) -> AsyncIterator[str]:
        if Verb.LOGS not in ref.kind.verbs:
            raise UnsupportedError(f"{ref.kind.name} have no logs")
        pod, obj = await self._call(self._pod_for, ref)
        container = container or _default_container(obj)
        query: list[tuple[str, Any]] = [("follow", str(follow).lower())]
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        path = object_path(_PODS, ref.namespace, pod, "log")
        async for line in stream_logs(self.conn.transport, path, query,
                                      self.settings.log_line_max, follow):
            yield line

    # -- Scaler, Deleter, Restarter ---------------------------------------------------------
    async def scale(self, ref: ResourceRef, replicas: int) -> None:
        self._guard(Verb.SCALE, ref)
        if replicas < 0:
            raise BackendError("replicas must be 0 or more")
        await self._call(self.conn.transport.json, "PATCH", self._path(ref, "scale"),
                         body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH)

    async def delete(self, ref: ResourceRef, *, force: bool = False) -> None:
        self._guard(Verb.DELETE, ref)
        query = [("gracePeriodSeconds", 0)] if force else []
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "propagationPolicy": "Background"}
        await self._call(self.conn.transport.json, "DELETE", self._path(ref), query=query,
                         body=body)

    async def restart(self, ref: ResourceRef) -> None:
        self._guard(Verb.RESTART, ref)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}}
        await self._call(self.conn.transport.json, "PATCH", self._path(ref), body=body,
                         content_type=MERGE_PATCH)

    # -- NodeOperator ---------------------------------------------------------------------
    async def cordon(self, ref: ResourceRef, unschedulable: bool = True) -> None:
        self._guard(Verb.CORDON, ref)
        await self._call(self.conn.transport.json, "PATCH", self._path(ref),
                         body={"spec": {"unschedulable": unschedulable or None}},
                         content_type=MERGE_PATCH)

    async def drain(self, ref: ResourceRef, timeout: float = 60.0) -> AsyncIterator[str]:
        self._guard(Verb.DRAIN, ref)
        await self.cordon(ref, True)
        yield f"node/{ref.name} cordoned"
        transport = self.conn.transport
        pods = (await self._call(transport.get, "/api/v1/pods",
                                 [("fieldSelector", f"spec.nodeName={ref.name}")])).get(
            "items") or []
        policy = await self._call(self._eviction_version)
        victims = []
        for pod in pods:
            meta = pod["metadata"]
            owners = {o.get("kind") for o in meta.get("ownerReferences") or ()}
            if "DaemonSet" in owners:
                yield f"ignoring DaemonSet-managed pod {meta['namespace']}/{meta['name']}"
                continue
            if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
                continue
            body = {"apiVersion": policy, "kind": "Eviction",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
            path = object_path(_PODS, meta["namespace"], meta["name"], "eviction")
            try:
                await self._call(transport.json, "POST", path, body=body)
                victims.append(meta)
                yield f"evicting pod {meta['namespace']}/{meta['name']}"
            except BackendError as exc:
                yield f"cannot evict {meta['namespace']}/{meta['name']}: {exc}"
        deadline = time.monotonic() + timeout
        remaining = victims
        while remaining and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            left = []
            for meta in remaining:
                path = object_path(_PODS, meta["namespace"], meta["name"])
                try:
                    obj = await self._call(transport.get, path)
                    if obj["metadata"].get("uid") == meta.get("uid"):
                        left.append(meta)
                except NotFound:
                    yield f"pod {meta['namespace']}/{meta['name']} evicted"
            remaining = left
        if remaining:
            yield (f"still terminating after {timeout:.0f}s: "
                   + ", ".join(f"{m['namespace']}/{m['name']}" for m in remaining))
        else:
            yield f"node/{ref.name} drained"

    def _eviction_version(self) -> str:
        try:
            group = self.conn.transport.get("/apis/policy")
            versions = [v["version"] for v in group.get("versions") or ()]
        except BackendError:
            versions = []
        return "policy/v1" if "v1" in versions else "policy/v1beta1"

    # -- ServiceProxy ---------------------------------------------------------------------
    async def find_service_proxy(self, names: Sequence[str], app_labels: Sequence[str]
                                 ) -> tuple[str, HttpAuth, str] | None:
        return await self._call(self._find_service_proxy, tuple(names), tuple(app_labels))

    def _find_service_proxy(self, names: tuple[str, ...], app_labels: tuple[str, ...]
                            ) -> tuple[str, HttpAuth, str] | None:
        services = self._list_services()
        if not services:
            return None

        def rank(svc: dict[str, Any]) -> tuple[int, str, str]:
            meta = svc["metadata"]
            labels = meta.get("labels") or {}
            if meta["name"] in names:
                return names.index(meta["name"]), meta.get("namespace", ""), meta["name"]
            app = labels.get("app.kubernetes.io/name") or labels.get("app")
            return (len(names) if app in app_labels else len(names) + 1,
                    meta.get("namespace", ""), meta["name"])

        best = min(services, key=rank)
        if rank(best)[0] > len(names):
            return None
        meta = best["metadata"]
        ports = (best.get("spec") or {}).get("ports") or []
        port = next((p for p in ports if p.get("name") in ("web", "http-web", "http")),
                    next((p for p in ports if p.get("port") == 9090), ports[0] if ports else None))
        if port is None:
            return None
        scheme = "https" if "https" in str(port.get("name", "")) else "http"
        port_ref = port.get("name") or port.get("port")
        q = quote_segment
        url = (f"{self.conn.transport.server}/api/v1/namespaces/{q(meta['namespace'])}/"
               f"services/{scheme}:{q(meta['name'])}:{q(str(port_ref))}/proxy")
        return url, self._http_auth(), f"{meta['namespace']}/{meta['name']} via the API server"

    def _list_services(self) -> list[dict[str, Any]]:
        transport = self.conn.transport
        try:
            return transport.get("/api/v1/services").get("items") or []
        except BackendError:  # may not list cluster-wide: try the usual namespaces
            found = []
            for namespace in dict.fromkeys((self._namespace or "default", "monitoring")):
                try:
                    path = f"/api/v1/namespaces/{quote_segment(namespace)}/services"
                    found += transport.get(path).get("items") or []
                except BackendError:
                    continue
            return found

    def _http_auth(self) -> HttpAuth:
        """The current context's credentials, for another HTTP client."""
        configuration = self.conn.transport.api_client.configuration
        headers = {}
        token = configuration.auth_settings().get("BearerToken", {}).get("value")
        if token:
            headers["Authorization"] = token
        cert = ((configuration.cert_file, configuration.key_file)
                if configuration.cert_file and configuration.key_file else None)
        verify: bool | str = (configuration.ssl_ca_cert or True) if configuration.verify_ssl \
            else False
        return HttpAuth(headers=headers, cert=cert, verify=verify)

    # -- PortForwarder --------------------------------------------------------------------
    async def port_forward(self, ref: ResourceRef, port: int) -> PodPortForward:
        """Forward an ephemeral port of 127.0.0.1 to ``port`` of pod ``ref`` (or of the
        pod a workload's selector picks first, running ones first). Read-only sessions may:
        it changes nothing. Raises as ``PortForwarder.port_forward`` says."""
        from mlops_tui.backends.kubernetes.portforward import open_port_forward

        _, pod = await self._call(self._pod_for, ref)
        forward = await open_port_forward(self.conn.transport, pod, port,
                                          on_close=self._forwards.remove)
        self._forwards.append(forward)
        return forward

    def forwards(self) -> list[PodPortForward]:
        """The port-forwards open now, oldest first."""
        return list(self._forwards)

    # -- ContextSwitcher ------------------------------------------------------------------
    def contexts(self) -> list[ContextInfo]:
        # from memory (parsed by the last connect, re-read in the background): this runs on
        # the UI thread, which must not parse YAML
        if self._conn is None:
            return kubeconfig.list_contexts(self.settings.kubeconfig)
        current = self._conn.loaded.context
        return [ContextInfo(c.name, c.cluster, c.user, c.namespace, c.name == current)
                for c in self._conn.loaded.catalog.snapshot()]

    async def use_context(self, name: str) -> ClusterInfo:
        # reads the files afresh (an unknown name is a ConfigError) and reaches the server;
        # fails before anything is torn down
        new = await asyncio.to_thread(self._open, name)
        old, self._conn = self._conn, new
        if old is not None:
            await asyncio.to_thread(old.stop)
        self._namespace = new.loaded.namespace or ("" if self.settings.all_namespaces
                                                   else "default")
        return self.info()


def _namespace(namespace: str) -> str:
    """``namespace`` when it may go into a request path ("" is all namespaces).

    Raises:
        ConfigError: not a valid namespace name.
    """
    return check_namespace(namespace) if namespace else ""


def _default_container(pod: dict[str, Any]) -> str | None:
    """The container kubectl picks when none is named: the default-container annotation,
    else the first one (the API server refuses a multi-container pod without a name)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    named = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    containers = [c.get("name") for c in spec.get("containers") or ()]
    if named in containers:
        return named
    return containers[0] if containers else None
