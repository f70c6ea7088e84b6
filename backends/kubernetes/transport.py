"""Raw JSON over the official client's connection pool and auth.

The generated models cost ~0.5 ms and several KB per object; a table needs a dozen fields.
So lists and watches go through the client's authenticated urllib3 pool but decode with
orjson into plain dicts, and every HTTP or socket failure becomes a :mod:`backends.errors`
exception whose text a user can read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from mlops_tui.backends.errors import (
    BackendError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
)

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class Gone(BackendError):
    """410: the resourceVersion a watch asked for was compacted away; relist."""


class NotKubernetes(ConnectionFailed):
    """A 2xx answer that is not what the Kubernetes API sends (HTML from a proxy or a web
    server at the kubeconfig's address, a JSON list, an object of the wrong shape)."""


def not_kubernetes(server: str, what: str, detail: str) -> NotKubernetes:
    return NotKubernetes(f"{server} answered with something that is not the Kubernetes API: "
                         f"{what}: {detail}", hint="check the server address in the kubeconfig")


def snippet(body: bytes, limit: int = 40) -> str:
    """The start of a body a server sent, safe to put on one line of an error message."""
    text = body[:limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())[:limit]
    return repr(text) + ("…" if len(body) > limit else "")


def decode_object(body: bytes, server: str, what: str) -> dict[str, Any]:
    """A response body as the JSON object every Kubernetes API answer is.

    Raises:
        NotKubernetes: the body is not JSON, or JSON but not an object.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise not_kubernetes(server, what, f"not JSON, it starts {snippet(body)}") from None
    if not isinstance(data, dict):
        raise not_kubernetes(server, what, f"a JSON {type(data).__name__}, not an object")
    return data


def _status_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip()
    return str(data.get("message") or data.get("reason") or "") if isinstance(data, dict) else ""


def http_error(status: int, body: bytes, what: str, server: str) -> BackendError:
    """Map an HTTP status to the error a user reads."""
    message = _status_message(body)
    if status == 401:
        return Unauthorized(f"{server} refused the credentials (401 Unauthorized)",
                            hint="the token or client certificate is invalid or expired")
    if status == 403:
        return Forbidden(f"forbidden: {message or what}")
    if status == 404:
        return NotFound(f"not found: {message or what}")
    if status == 409:
        return Conflict(message or f"conflict on {what}")
    if status == 410:
        return Gone(message or "resource version too old")
    if status in (400, 422):
        return Invalid(f"{what} rejected: {message}" if message else f"{what} rejected")
    return BackendError(f"{what} failed: {status} {message}".strip())


class Transport:
    """Requests against one API server with one client's credentials."""

    def __init__(self, api_client: ApiClient, timeout: float) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.server = api_client.configuration.host

    def open(self, method: str, path: str, *, query: list[tuple[str, Any]] | None = None,
             body: Any = None, content_type: str = JSON, accept: str = JSON,
             read_timeout: float | None = None) -> urllib3.BaseHTTPResponse:
        """Send a request; return the open response (2xx only) for the caller to read."""
        headers = {"Accept": accept, "User-Agent": "mlops-tui"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, body, post = self.api_client.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"])
        timeout = (self.timeout, read_timeout if read_timeout is not None else self.timeout)
        try:
            resp = self.api_client.call_api(method, url, header_params=headers, body=body,
                                            post_params=post, _request_timeout=timeout).response
        except ApiException as exc:  # TLS failures arrive this way
            raise ConnectionFailed(f"cannot reach {self.server}: {_first_line(exc.reason)}",
                                   hint="check the server address and CA") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(f"cannot reach {self.server}: {_reason(exc)}") from None
        if resp.status >= 300:
            data = resp.data
            resp.release_conn()
            raise http_error(resp.status, data, f"{method} {path}", self.server)
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The answer as a JSON object ({} for an empty body); never a decoding error.

        Raises:
            NotKubernetes: the answer is not a JSON object.
        """
        resp = self.open(method, path, **kwargs)
        try:
            data = resp.data
            return decode_object(data, self.server, f"{method} {path}") if data else {}
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(f"lost {self.server} mid-response: {_reason(exc)}") from None
        finally:
            resp.release_conn()

    def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        return self.json("GET", path, query=query)

    def text(self, path: str, query: list[tuple[str, Any]] | None = None) -> str:
        resp = self.open("GET", path, query=query, accept="*/*")
        try:
            return resp.data.decode("utf-8", "replace")
        finally:
            resp.release_conn()


def iter_lines(resp: urllib3.BaseHTTPResponse, chunk: int = 65536) -> Iterator[bytes]:
    """Split a streamed body into lines without waiting for the stream to end."""
    pending = b""
    for data in resp.stream(chunk, decode_content=True):
        pending += data
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[-1] if text else "TLS error"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted"
    return text.split(": ", 1)[-1][:200]
