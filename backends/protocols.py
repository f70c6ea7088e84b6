"""The contract between the TUI and a cluster backend, split by capability.

A backend implements :class:`ClusterBackend` and whichever capability protocols it can
honour. The TUI probes with ``isinstance`` (the protocols are runtime-checkable) and with the
kind's :class:`~backends.models.Verb` set, and offers a key only when both say yes, so a
missing capability is an absent key, never a surprise error.

Every call that may touch the network is ``async``; blocking client libraries are wrapped
inside the backend. Reading a cache is synchronous and in-memory: the TUI never waits on
the API server to draw a table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlops_tui.backends.models import (
    CacheChanges,
    CacheState,
    ClusterInfo,
    Column,
    ContextInfo,
    HttpAuth,
    KindInfo,
    ResourceRef,
    Row,
)

if TYPE_CHECKING:  # annotations only: a cluster session never loads the metrics models
    from mlops_tui.backends.metrics_models import MetricsSnapshot, Sample, Screen, Window
    from mlops_tui.backends.provisioning.contract import Provisioner


@runtime_checkable
class RowCache(Protocol):
    """A watch-fed, in-memory set of rows for one kind in one namespace (or all)."""

    kind: KindInfo
    namespace: str  # "" for all namespaces
    columns: tuple[Column, ...]

    def changes_since(self, version: int) -> CacheChanges:
        """Rows changed after ``version`` (0: everything, as a reset).

        Returns:
            The new version to pass next time, the rows added or changed, the uids deleted,
            and ``reset`` when the reader must replace what it holds.
        """
        ...

    def state(self) -> CacheState:
        """Whether the first list finished, the last watch error, the row count."""
        ...

    def get(self, uid: str) -> Row | None:
        """The current row for ``uid``, or None when it is gone."""
        ...


@runtime_checkable
class ClusterBackend(Protocol):
    """What every cluster backend does: connect, name its kinds, serve row caches."""

    name: str
    readonly: bool

    async def connect(self) -> ClusterInfo:
        """Load credentials, reach the server, run discovery.

        Raises:
            ConfigError: the configuration is unusable (bad kubeconfig, unknown context).
            ConnectionFailed, Unauthorized, Forbidden: the server said no or is unreachable.
        """
        ...

    def info(self) -> ClusterInfo:
        """The header facts of the current connection (after :meth:`connect`)."""
        ...

    def kinds(self) -> Sequence[KindInfo]:
        """Every kind this cluster serves that the backend can show, built-in first."""
        ...

    def resolve_kind(self, alias: str) -> KindInfo | None:
        """Find a kind by plural, singular, short name or ``plural.group``; None if unknown."""
        ...

    def cache(self, kind: KindInfo, namespace: str) -> RowCache:
        """The row cache for ``kind`` in ``namespace`` ("" = all), started on first use.

        Returns at once; the cache fills in the background (see ``state().synced``).
        """
        ...

    def set_namespace(self, namespace: str) -> None:
        """Make ``namespace`` ("" = all) the session's current namespace."""
        ...

    async def close(self) -> None:
        """Stop every watch and release connections."""
        ...


@runtime_checkable
class ObjectReader(Protocol):
    """Whole objects, fetched on demand (script steps, waits); tables read caches instead."""

    async def get_object(self, ref: ResourceRef) -> dict[str, Any]:
        """One object as the API serves it (``kind`` and ``apiVersion`` set).

        Raises:
            NotFound: it does not exist.
        """
        ...

    async def list_objects(self, kind: KindInfo, namespace: str, *, label_selector: str = "",
                           field_selector: str = "") -> list[dict[str, Any]]:
        """Every object of ``kind`` in ``namespace`` ("" = all) matching the selectors."""
        ...


@runtime_checkable
class Applier(Protocol):
    """Create or update objects from manifests: server-side apply with a field manager."""

    def kind_of(self, api_version: str, kind: str) -> KindInfo | None:
        """The served kind for a manifest's ``apiVersion`` and ``kind``; None if unknown."""
        ...

    async def apply(self, manifest: dict[str, Any], *, namespace: str, field_manager: str,
                    dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        """Server-side apply one object (``dry_run``: the server validates and answers with
        the result, changing nothing). Returns the object the server answered with.

        Raises:
            Invalid: the server rejected the manifest (schema, admission).
            Conflict: another field manager owns a field (``force`` takes it over).
        """
        ...


@runtime_checkable
class Describer(Protocol):
    async def describe(self, ref: ResourceRef) -> str:
        """A human-readable, kubectl-describe-like text of one object (secrets: keys only)."""
        ...

    async def yaml(self, ref: ResourceRef) -> str:
        """The object as YAML, without managedFields; secret values are redacted."""
        ...


@runtime_checkable
class LogSource(Protocol):
    async def containers(self, ref: ResourceRef) -> list[str]:
        """Container names of a pod (init containers last), for the container picker."""
        ...

    def logs(
        self,
        ref: ResourceRef,
        *,
        container: str | None = None,
        follow: bool = True,
        previous: bool = False,
        tail_lines: int | None = 200,
    ) -> AsyncIterator[str]:
        """Log lines of one container, newest last; follows until cancelled."""
        ...


@runtime_checkable
class Scaler(Protocol):
    async def scale(self, ref: ResourceRef, replicas: int) -> None:
        """Set the replica count of a deployment, statefulset or replicaset."""
        ...


@runtime_checkable
class Deleter(Protocol):
    async def delete(self, ref: ResourceRef, *, force: bool = False) -> None:
        """Delete one object (``force``: grace period 0)."""
        ...


@runtime_checkable
class Restarter(Protocol):
    async def restart(self, ref: ResourceRef) -> None:
        """Rollout restart: stamp the pod template so the controller replaces every pod."""
        ...


@runtime_checkable
class NodeOperator(Protocol):
    async def cordon(self, ref: ResourceRef, unschedulable: bool = True) -> None:
        """Mark a node (un)schedulable."""
        ...

    def drain(self, ref: ResourceRef) -> AsyncIterator[str]:
        """Cordon, then evict every pod but DaemonSet and mirror pods; yields progress lines."""
        ...


@runtime_checkable
class ContextSwitcher(Protocol):
    def contexts(self) -> list[ContextInfo]:
        """Every context of the loaded kubeconfig(s), the current one flagged."""
        ...

    async def use_context(self, name: str) -> ClusterInfo:
        """Switch to another context: caches restart against the new cluster.

        Raises:
            ConfigError: no such context. The old context stays in use.
        """
        ...


@runtime_checkable
class MetricsSource(Protocol):
    """Live panels' numbers (GPU, Triton models, nodes) from a metrics system."""

    name: str

    async def snapshot(self, screen: Screen, window: Window, *, node: str | None = None,
                       model: str | None = None, pods: str | None = None) -> MetricsSnapshot:
        """One refresh of ``screen``: a single batched round of queries.

        Args:
            screen: which panels (see :class:`Screen`).
            window: the plots' time range.
            node / model: narrow the panels to one node's GPUs or one model.
            pods: narrow the model panels to pods whose name starts with this (a
                deployment's pods).

        Returns:
            The panels' values. A query the metrics system answered with an error (a bad
            query, a timeout) is listed in ``errors``, never shown as "no data" in
            ``notes``; the other panels still come back.

        Raises:
            ConnectionFailed, Unauthorized, Forbidden: the metrics system is unreachable or
                refuses; the caller keeps its last good snapshot and marks it stale.
            ConfigError: what answered is not a metrics system (not JSON, the wrong shape).
        """
        ...

    def describe(self) -> str:
        """Where the numbers come from, for the header (URL without credentials)."""
        ...

    async def close(self) -> None:
        ...


@runtime_checkable
class MetricsQuery(Protocol):
    """Instant PromQL queries (script checks such as ``assert_metric``). Only a source that
    really asks a metrics system has it: the demo, which has no PromQL, does not."""

    async def instant(self, query: str) -> list[Sample]:
        """Evaluate ``query`` now.

        Returns:
            One :class:`Sample` per series of the answer (a scalar: one with no labels);
            an empty list when nothing matched.

        Raises:
            Invalid: the query was rejected (bad PromQL, or it cannot be evaluated).
            ConnectionFailed: unreachable, timed out, or the server failed (5xx).
            Unauthorized, Forbidden: the credentials were refused.
            ConfigError: what answered is not a metrics system.
        """
        ...


@runtime_checkable
class ServiceProxy(Protocol):
    """Reach an in-cluster HTTP service through the API server (no port-forward)."""

    async def find_service_proxy(self, names: Sequence[str], app_labels: Sequence[str]
                                 ) -> tuple[str, HttpAuth, str] | None:
        """Find the first service named one of ``names`` (preferred) or labelled
        ``app.kubernetes.io/name`` / ``app`` one of ``app_labels``, in any namespace the
        user may list.

        Returns:
            (base URL through the API server's service proxy, the auth to send, a short
            description such as "monitoring/prometheus-k8s via the API server"), or None.
        """
        ...


@runtime_checkable
class PortForward(Protocol):
    """A local TCP port on 127.0.0.1 that reaches one port of one pod (``kubectl
    port-forward``); every connection to it is a new stream through the API server."""

    local_port: int
    description: str  # "triton/resnet-7d9f-abcde:8001 via port-forward"

    async def close(self) -> None:
        """Stop listening and end every open stream."""
        ...


@runtime_checkable
class PortForwarder(Protocol):
    """Open port-forwards to pods, as ``kubectl port-forward`` does; the app opens and
    closes them itself, so no user step is needed to reach a pod's port."""

    async def port_forward(self, ref: ResourceRef, port: int) -> PortForward:
        """Listen on an ephemeral port of 127.0.0.1 and forward it to ``port`` of pod ``ref``.

        Raises:
            NotFound: no such pod. ConnectionFailed: the pod is not running or the API
            server refused the upgrade. Forbidden: the user may not create pods/portforward.
        """
        ...


@runtime_checkable
class ProvisionerSource(Protocol):
    """A backend that makes its own provisioners and preflight reports (the demo: a
    simulated cluster build that installs nothing). The preflight, provision and destroy
    actions use it when the session's backend has it, and the real SSH preflight and
    provisioners (k3s, kubeadm over SSH) otherwise.

    Optional: ``clusters() -> list`` — the clusters this source made, shaped as
    ``backends.provisioning.state.ClusterState`` (``cluster``, ``path``, ``phase``,
    ``hosts``, ``options``), which the provision screen lists instead of the state
    directory's (those belong to the real provisioners); none when absent. It is not part
    of the protocol so that a source without it still counts as one (and no request falls
    through to the real provisioners).
    """

    def provisioner(self, request: Any) -> Provisioner:
        """A provisioner for ``request`` (a ``provision`` or ``destroy`` request: it has
        ``cluster``, and ``path`` / ``hosts`` / ``gpu`` / ``monitoring`` where it is a
        provision request).

        Raises:
            ConfigError: the request cannot be served here (an unknown path).
        """
        ...

    def preflight(self, request: Any) -> AsyncIterator[Any]:
        """Preflight reports for a ``preflight`` request, one per host, shaped as
        ``backends.ssh.preflight.HostReport`` (``host``, ``checks`` with ``name`` /
        ``status`` / ``value`` / ``fix``, ``facts``, ``environment_error``)."""
        ...
