"""How an action reaches a Triton server: a URL the user gives, or a port-forward to a pod.

Without ``url`` the deployment's pods are read (ObjectReader), a Ready one is picked, and a
port-forward (PortForwarder) to its HTTP (8000) or gRPC (8001) port is opened for the
length of the ``async with`` and closed after, as ``kubectl port-forward`` would be around
a ``perf_analyzer`` run. Nothing else in the cluster needs to be reachable from here:
neither Service ClusterIPs nor pod IPs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from mlops_tui.backends.actions.base import ActionContext, CheckFailed
from mlops_tui.backends.errors import ConfigError, NotFound
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import ObjectReader, PortForwarder
from mlops_tui.backends.render.describe_workloads import selector_text
from mlops_tui.backends.triton.tensors import Protocol, TritonEndpoint

PORTS: dict[str, int] = {"http": 8000, "grpc": 8001}
# A Triton model is a folder of the repository and a segment of its URLs: kept to the
# characters a folder name and a URL segment share without quoting.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")
_SCHEMES = {"http": ("http", False), "https": ("http", True), "grpc": ("grpc", False),
            "grpcs": ("grpc", True)}

Obj = dict[str, Any]


def _model_name(value: str) -> str:
    if not _MODEL_NAME.match(value) or value in (".", ".."):
        raise ValueError("a model name is 1-253 letters, digits, '_', '.' or '-' (the "
                         "model's folder in the repository)")
    return value


ModelName = Annotated[str, AfterValidator(_model_name)]


def parse_url(url: str, protocol: Protocol) -> TritonEndpoint:
    """An endpoint from ``host:port`` or ``http(s)://`` / ``grpc(s)://host:port``.

    A scheme, when given, must agree with ``protocol`` (``https`` / ``grpcs``: TLS).

    Raises:
        ConfigError: not a host and port, or a scheme for the other protocol.
    """
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    if "@" in parts.netloc:  # never echoed: it would print the password
        raise ConfigError("url: a user or password in the URL is not supported")
    ssl = False
    if parts.scheme:
        if parts.scheme not in _SCHEMES:
            raise ConfigError(f"url {url!r}: the scheme must be one of "
                              f"{', '.join(_SCHEMES)}")
        wants, ssl = _SCHEMES[parts.scheme]
        if wants != protocol:
            raise ConfigError(f"url {url!r} is a {wants} address, but protocol is {protocol}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"url {url!r}: give host:port, e.g. 127.0.0.1:{PORTS[protocol]}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return TritonEndpoint(f"{host}:{port}", protocol, ssl=ssl, description=f"{host}:{port}")


def pod_is_ready(pod: Obj) -> bool:
    """Running, not being deleted, and its Ready condition True."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or () if isinstance(c, dict))


async def deployment_pods(ctx: ActionContext, name: str, namespace: str
                          ) -> tuple[Obj | None, list[Obj]]:
    """The deployment ``name`` (None when it does not exist) and the pods its selector
    matches, sorted by name."""
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    try:
        deployment = await reader.get_object(ResourceRef(ctx.kind("deployments"), name,
                                                         namespace))
    except NotFound:
        return None, []
    selector = (deployment.get("spec") or {}).get("selector") or {}
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return deployment, []  # an empty selector would match every pod of the namespace
    pods = await reader.list_objects(ctx.kind("pods"), namespace,
                                     label_selector=selector_text(selector))
    return deployment, sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name", ""))


def port_forwarder(ctx: ActionContext,
                   hint: str = "give url: (host:port of the Triton server) instead"
                   ) -> PortForwarder:
    """The backend as a PortForwarder.

    Raises:
        ConfigError: it cannot port-forward; the message ends with ``hint``.
    """
    if not isinstance(ctx.backend, PortForwarder):
        raise ConfigError(f"the {ctx.backend.name} backend cannot port-forward to a pod; "
                          f"{hint}")
    return ctx.backend


@asynccontextmanager
async def pod_endpoint(ctx: ActionContext, pod: ResourceRef, protocol: Protocol
                       ) -> AsyncIterator[TritonEndpoint]:
    """A port-forward to one pod's Triton port, closed on exit."""
    forward = await port_forwarder(ctx).port_forward(pod, PORTS[protocol])
    try:
        yield TritonEndpoint(f"127.0.0.1:{forward.local_port}", protocol,
                             description=forward.description)
    finally:
        await forward.close()


@asynccontextmanager
async def triton_endpoint(ctx: ActionContext, name: str | None, protocol: Protocol,
                          url: str | None = None, *, namespace: str | None = None
                          ) -> AsyncIterator[TritonEndpoint]:
    """Where to send requests for the model server deployment ``name``.

    Args:
        name: the deployment (what ``deploy`` made); unused when ``url`` is given.
        protocol: ``http`` (port 8000) or ``grpc`` (8001).
        url: reach the server directly at this address instead.
        namespace: the deployment's namespace (default: the session's).

    Raises:
        ConfigError: neither ``url`` nor ``name``, a bad ``url``, or a backend that cannot
            port-forward.
        CheckFailed: the deployment does not exist or has no Ready pod.
        NotFound, ConnectionFailed, Forbidden: the port-forward could not be opened.
    """
    if url is not None:
        yield parse_url(url, protocol)
        return
    if not name:
        raise ConfigError("give name: (the deployment) or url: (host:port)")
    port_forwarder(ctx)  # before any read: a backend that cannot forward says so first
    namespace = namespace or ctx.namespace or "default"
    deployment, pods = await deployment_pods(ctx, name, namespace)
    if deployment is None:
        raise CheckFailed(f"deployment {namespace}/{name} does not exist")
    ready = [p for p in pods if pod_is_ready(p)]
    if not ready:
        raise CheckFailed(f"deployment {namespace}/{name} has no Ready pod "
                          f"({len(pods)} pod{'s' if len(pods) != 1 else ''})")
    pod = ResourceRef(ctx.kind("pods"), ready[0]["metadata"]["name"], namespace)
    async with pod_endpoint(ctx, pod, protocol) as endpoint:
        yield endpoint
