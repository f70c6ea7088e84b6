"""WebSocket streams to a pod's port-forward endpoint, authenticated as the client is.

The official client's urllib3 pool cannot carry a WebSocket, so streams go through aiohttp
with the same settings the pool uses: the CA (or none when ``insecure-skip-tls-verify``),
the client certificate, the bearer token (asked for on every stream, so an exec plugin's
token is refreshed when it expires), ``tls-server-name`` and ``proxy-url``. The token goes
into the request header only; nothing here logs a header.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import ClientWebSocketResponse
from kubernetes.client import Configuration
from kubernetes.client.rest import is_socks_proxy_url, should_bypass_proxies
from yarl import URL

from mlops_tui.backends.errors import BackendError, ConfigError, ConnectionFailed
from mlops_tui.backends.kubernetes.transport import Transport
from mlops_tui.backends.names import quote_segment

SUBPROTOCOL = "v4.channel.k8s.io"
MAX_MESSAGE = 64 * 1024 * 1024  # the kubelet sends 32 KiB; anything near this is hostile
CONNECTIONS = 128  # streams open at once per forward; more wait for a free one

Explain = Callable[[int], BackendError]  # HTTP status of a refused upgrade → the error


def portforward_url(server: str, namespace: str, pod: str, port: int) -> URL:
    """The WebSocket URL of ``pods/POD/portforward`` for one port (a server path such as
    ``https://host/k8s/clusters/c-1`` is kept)."""
    base = server.rstrip("/")
    scheme, _, rest = base.partition("://")
    ws = {"https": "wss", "http": "ws"}.get(scheme.lower(), scheme)
    path = (f"/api/v1/namespaces/{quote_segment(namespace)}/pods/{quote_segment(pod)}"
            f"/portforward?ports={int(port)}")
    return URL(f"{ws}://{rest}{path}", encoded=True)


def tls_context(cfg: Configuration) -> ssl.SSLContext:
    """An SSL context with the configuration's CA, client certificate and checks.

    Raises:
        ConfigError: a certificate or key file cannot be read or does not parse.
    """
    try:
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None,
                                         cadata=getattr(cfg, "ca_cert_data", None) or None)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif cfg.assert_hostname is False:
            ctx.check_hostname = False
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"port-forward cannot load the TLS files of the kubeconfig: "
                          f"{exc.__class__.__name__}") from None
    return ctx


class StreamDialer:
    """Opens one port-forward WebSocket per :meth:`dial`, for one API server and user."""

    def __init__(self, transport: Transport, explain: Explain) -> None:
        self._transport = transport
        self._cfg: Configuration = transport.api_client.configuration
        self._explain = explain
        self._session: aiohttp.ClientSession | None = None
        self._tls: tuple[tuple[Any, ...], ssl.SSLContext] | None = None
        self._lock = threading.Lock()

    def _credentials(self) -> tuple[dict[str, str], ssl.SSLContext]:
        """Headers and TLS context for the next stream (blocking: may run a plugin)."""
        cfg = self._cfg
        token = cfg.auth_settings().get("BearerToken", {}).get("value")
        headers = {"Authorization": token} if token else {}
        key = (cfg.ssl_ca_cert, getattr(cfg, "ca_cert_data", None), cfg.cert_file,
               cfg.key_file, cfg.verify_ssl, cfg.assert_hostname)
        with self._lock:
            if self._tls is None or self._tls[0] != key:
                self._tls = (key, tls_context(cfg))
            return headers, self._tls[1]

    def _proxy(self) -> str | None:
        cfg = self._cfg
        if not cfg.proxy or should_bypass_proxies(cfg.host, cfg.no_proxy or ""):
            return None
        if is_socks_proxy_url(cfg.proxy):
            raise ConfigError("port-forward cannot go through a SOCKS proxy-url")
        return cfg.proxy

    async def dial(self, namespace: str, pod: str, port: int) -> ClientWebSocketResponse:
        """A new stream to ``port`` of the pod.

        Raises:
            ConfigError: the credentials or TLS files cannot be used.
            NotFound, Forbidden, Unauthorized, ConnectionFailed: the upgrade was refused
                (from ``explain``) or the server cannot be reached.
        """
        headers, ctx = await asyncio.to_thread(self._credentials)
        proxy = self._proxy()
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._transport.timeout,
                                            sock_read=None)
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(limit=CONNECTIONS),
                headers={"User-Agent": "mlops-tui"})
        url = portforward_url(self._transport.server, namespace, pod, port)
        try:
            async with asyncio.timeout(self._transport.timeout):
                return await self._session.ws_connect(
                    url, protocols=(SUBPROTOCOL,), headers=headers, ssl=ctx,
                    server_hostname=self._cfg.tls_server_name or None, proxy=proxy,
                    proxy_headers=self._cfg.proxy_headers if proxy else None,
                    max_msg_size=MAX_MESSAGE, autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0))
        except aiohttp.WSServerHandshakeError as exc:
            raise await asyncio.to_thread(self._explain, exc.status) from None
        except TimeoutError:
            raise ConnectionFailed(f"port-forward to {namespace}/{pod}:{port}: "
                                   f"{self._transport.server} did not answer in "
                                   f"{self._transport.timeout:.0f}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionFailed(f"port-forward to {namespace}/{pod}:{port}: cannot reach "
                                   f"{self._transport.server}: {_why(exc)}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _why(exc: BaseException) -> str:
    """A connection failure in a few words (no URL with a query, no header)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return (exc.os_error.strerror or exc.os_error.__class__.__name__).lower()
    return exc.__class__.__name__
