"""Steps that use the new cluster: its kubeconfig, its nodes Ready, the GPU smoke pod, the
monitoring stack; and the destroy step that forgets its kubeconfig context.

The cluster is reached through the backend registry ("kubernetes") with the admin
kubeconfig kept in the cluster's state dir, never through the user's current context.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from mlops_tui.backends.actions.provisioners import gpu_smoke
from mlops_tui.backends.actions.provisioners.base import GPU_HOSTS, KUBECONFIG_COPY
from mlops_tui.backends.actions.provisioners.steps import skip_in_check_mode, skip_unless
from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.provisioning.contract import StepContext, StepEvent, StepStatus

if TYPE_CHECKING:
    from mlops_tui.backends.actions.provisioners.base import ClusterProvisioner

NODES_READY_TIMEOUT_S = 300.0
POLL_S = 2.0
_LOOPBACK = {"127.0.0.1", "localhost", "0.0.0.0", "::1", "::"}


def rewrite_server(text: str, address: str) -> str:
    """The kubeconfig with every cluster's server URL pointing at ``address`` (the port
    kept): k3s writes ``https://127.0.0.1:6443``, which is the host itself, not us.

    Raises:
        ConfigError: the text is not a kubeconfig.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("clusters"), list):
        raise ConfigError("the admin kubeconfig read from the server is not a kubeconfig")
    host = f"[{address}]" if _is_ipv6(address) else address
    for entry in document["clusters"]:
        cluster = entry.get("cluster") if isinstance(entry, dict) else None
        if isinstance(cluster, dict) and isinstance(cluster.get("server"), str):
            parts = urlsplit(cluster["server"])
            netloc = f"{host}:{parts.port}" if parts.port else host
            cluster["server"] = urlunsplit(parts._replace(netloc=netloc))
    return yaml.safe_dump(document, sort_keys=False)


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def fetch_kubeconfig(p: ClusterProvisioner, admin_path: str):
    """Read the admin kubeconfig (over SSH with sudo, or locally), point it at the server,
    keep a copy (0600) in the state dir and merge it into the user's as a new context."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        from mlops_tui.backends.provisioning.kubeconfig import merge
        from mlops_tui.backends.provisioning.state import write_atomic

        skip_in_check_mode(p)
        password = await p.sudo_password(ctx.scratch)
        text = await p.read_admin_file(admin_path, password)
        text = rewrite_server(text, p.server_address())
        await asyncio.to_thread(write_atomic, p.workdir / KUBECONFIG_COPY, text.encode())
        merged = await asyncio.to_thread(merge, text, name=p.cluster,
                                         target=p.kubeconfig_target)
        if p.state is not None:
            p.state.context = merged.context
        backup = f" (backup: {merged.backup})" if merged.backup else ""
        yield ctx.output(f"merged into {merged.path} as context {merged.context}{backup}")
        if merged.note:
            yield ctx.event(StepStatus.WARNING, merged.note)
        ctx.changed += int(merged.changed)
    return body


def forget_kubeconfig(p: ClusterProvisioner):
    """Destroy: the context merged at apply leaves the user's kubeconfig, the copy goes."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        from mlops_tui.backends.provisioning.kubeconfig import remove

        copy = p.workdir / KUBECONFIG_COPY
        context = p.state.context if p.state is not None else None
        if context:
            written = await asyncio.to_thread(remove, context, target=p.kubeconfig_target)
            if written is not None:
                yield ctx.output(f"context {context} removed from {written}")
                ctx.changed += 1
            if p.state is not None:
                p.state.context = None
        if copy.exists():
            copy.unlink()
            ctx.changed += 1
        skip_unless(bool(ctx.changed), "no kubeconfig context was merged")
    return body


async def _connected(p: ClusterProvisioner) -> Any:
    from mlops_tui.backends import registry
    from mlops_tui.backends.models import BackendSettings

    backend = registry.create("kubernetes", BackendSettings(
        kubeconfig=str(p.workdir / KUBECONFIG_COPY), namespace="default"))
    await backend.connect()
    return backend


def node_ready(node: dict[str, Any]) -> tuple[bool, str]:
    """(Ready?, why not) from a node's conditions."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            ok = condition.get("status") == "True"
            return ok, "" if ok else (condition.get("message") or condition.get("reason")
                                      or "not ready")
    return False, "no Ready condition yet"


def nodes_ready(p: ClusterProvisioner, timeout: float = NODES_READY_TIMEOUT_S):
    """Wait (bounded) until the cluster has a Ready node for every host."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        skip_in_check_mode(p)
        want = max(1, len(p.settings.hosts))
        backend = await _connected(p)
        try:
            kind = backend.resolve_kind("nodes")
            deadline, why = time.monotonic() + timeout, "no node registered yet"
            while True:
                nodes = await backend.list_objects(kind, "")
                states = {n["metadata"]["name"]: node_ready(n) for n in nodes}
                ready = sorted(name for name, (ok, _) in states.items() if ok)
                yield ctx.progress(f"{len(ready)}/{want} nodes Ready", len(ready) / want)
                if len(ready) >= want and len(ready) == len(states):
                    yield ctx.output(f"Ready: {', '.join(ready)}")
                    return
                why = "; ".join(f"{name}: {reason}" for name, (ok, reason) in
                                sorted(states.items()) if not ok) or why
                if time.monotonic() >= deadline:
                    raise BackendError(f"{len(ready)} of {want} nodes Ready after "
                                       f"{timeout:.0f}s ({why})")
                await asyncio.sleep(POLL_S)
        finally:
            await backend.close()
    return body


def gpu_check(p: ClusterProvisioner):
    """A pod requesting ``nvidia.com/gpu: 1`` runs ``nvidia-smi``; a Pending one is
    explained (no free GPU advertised, the device plugin not running on a node)."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        skip_unless(p.settings.gpu, "gpu: false: nothing was installed for GPUs")
        gpu_hosts = ctx.scratch.get(GPU_HOSTS) or {}
        skip_unless(bool(gpu_hosts), "no host has a GPU (preflight found none)")
        skip_in_check_mode(p)
        names = set(gpu_hosts) | {h.address for h in p.settings.hosts if h.label in gpu_hosts}
        extra = p.settings.extra_vars
        image = str(extra.get("gpu_smoke_image") or gpu_smoke.IMAGE)
        backend = await _connected(p)
        try:
            async for event in gpu_smoke.run(ctx, backend, names, image,
                                             p.smoke_runtime_class()):
                yield event
        finally:
            await backend.close()
    return body


def monitoring(p: ClusterProvisioner):
    """The monitoring action (Prometheus, DCGM exporter, node-exporter, Grafana) on the
    new cluster, its events as this step's."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, execute

        skip_unless(p.settings.monitoring, "monitoring: false")
        skip_in_check_mode(p)
        spec = ACTIONS.get("monitoring")
        if spec is None:
            raise ConfigError("this mlops-tui has no monitoring action")
        backend = await _connected(p)
        try:
            action_ctx = ActionContext(backend, "monitoring")
            async for event in execute(spec, action_ctx, spec.request.model_validate({})):
                if event.kind is EventKind.FAILED:
                    raise BackendError(f"monitoring: {event.message}")
                if event.kind is EventKind.OK:
                    yield ctx.output(event.message)
                elif event.kind is EventKind.PROGRESS:
                    yield ctx.progress(event.message, event.fraction)
                elif event.kind is EventKind.WARNING:
                    yield ctx.event(StepStatus.WARNING, event.message)
                elif event.message:
                    yield ctx.output(event.message)
            ctx.changed += 1
        finally:
            await backend.close()
    return body
