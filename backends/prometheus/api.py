"""The Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over a requests
session, with every way it can fail turned into a clear :mod:`backends.errors` exception.

What Prometheus itself answers: 200 ``{"status": "success", "data": {"resultType",
"result"}}``; for a query it rejects, 400 ``bad_data`` or 422 ``execution``; for one it gave
up on, 503 ``timeout``: each ``{"status": "error", "errorType", "error"}``. Anything else
(an HTML page from a wrong URL, a proxy's error page, JSON of another shape) is not
Prometheus speaking, and is said so instead of being read as "no series".
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import requests

from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    ConnectionFailed,
    Forbidden,
    Invalid,
    Unauthorized,
)

URL_HINT = "expected http(s)://host[:port][/path]"
_MAX_TEXT = 300  # of a server's error text in a message: one readable line
_GATEWAY = (502, 503, 504)
_GATEWAY_RETRY_DELAY_S = 0.2


class QueryError(BackendError):
    """Prometheus answered this one query with its own error. The other queries of a batch
    may still work: a panel lists the error and shows the rest."""


class BadQuery(QueryError, Invalid):
    """400 ``bad_data`` / 422 ``execution``: the query itself is wrong."""


class QueryFailed(QueryError, ConnectionFailed):
    """503 ``timeout``, ``canceled``, 500 ``internal``: Prometheus could not finish it."""


def check_url(url: str) -> str:
    """``url`` without trailing slashes, once it is an http(s) URL with a host.

    Raises:
        ConfigError: anything else (the message never repeats a URL holding credentials).
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        usable = (parts.scheme in ("http", "https") and bool(parts.hostname)
                  and (parts.port is None or parts.port > 0))
    except ValueError:  # a port that is not a number or out of range, a broken [IPv6]
        usable = False
    if usable:
        return text.rstrip("/")
    shown = "" if "@" in text else f" {one_line(text)[:120]!r}"
    raise ConfigError(f"invalid Prometheus URL{shown}: {URL_HINT}")


def one_line(text: str) -> str:
    """A server's text as one short line (no newlines to break a status line)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_TEXT else flat[:_MAX_TEXT] + "…"


class PrometheusApi:
    """Blocking calls (the source runs them on its thread pool)."""

    def __init__(self, url: str, session: requests.Session, *, timeout: float,
                 where: str) -> None:
        self.url = check_url(url)
        self.where = where  # what messages call it: a redacted URL or "ns/svc via ..."
        self.timeout = timeout
        self._session = session

    def query(self, promql: str, at: float | None = None) -> tuple[str, Any]:
        """An instant query: ``(resultType, result)`` as Prometheus sends them."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        data = self._get("query", params)
        return data["resultType"], data["result"]

    def query_range(self, promql: str, start: float, end: float,
                    step: float) -> list[dict[str, Any]]:
        """A range query: ``[{"metric": {...}, "values": [[ts, "v"], ...]}, ...]``."""
        data = self._get("query_range", {"query": promql, "start": start, "end": end,
                                         "step": step})
        return data["result"]

    def _get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        # Fail fast: the panels retry on their own schedule. One retry, only for a gateway
        # answering 502-504 (a service proxy between pods restarting); Prometheus's own
        # 503 (a query timeout, with its error JSON) is an answer, not retried.
        response = self._send(endpoint, params)
        if response.status_code in _GATEWAY and not _is_prometheus_error(response):
            response.close()
            time.sleep(_GATEWAY_RETRY_DELAY_S)
            response = self._send(endpoint, params)
        with response:
            return _data(response, self.where)

    def _send(self, endpoint: str, params: dict[str, Any]) -> requests.Response:
        try:
            # verify given per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
            # override a session's own CA file otherwise
            return self._session.get(f"{self.url}/api/v1/{endpoint}", params=params,
                                     timeout=self.timeout, verify=self._session.verify)
        except requests.exceptions.SSLError:
            raise ConnectionFailed(f"TLS failed talking to {self.where}",
                                   hint="check --prometheus-ca-file") from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            # a read timeout can come wrapped as a ConnectionError: tell them by the text
            text = str(exc).lower()
            if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text:
                raise ConnectionFailed(f"Prometheus at {self.where} timed out "
                                       f"(no answer in {self.timeout:g}s)") from None
            reason = "connection refused" if "refused" in text else "unreachable"
            raise ConnectionFailed(f"cannot reach Prometheus at {self.where}: "
                                   f"{reason}") from None
        except requests.exceptions.RequestException as exc:
            raise ConnectionFailed(f"cannot query Prometheus at {self.where}: "
                                   f"{exc.__class__.__name__}") from None


def _is_prometheus_error(response: requests.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("status") == "error"


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # not JSON at all (an HTML page, plain text, nothing)
        return None


def _data(response: requests.Response, where: str) -> dict[str, Any]:
    """The ``data`` of a success answer, or the error the answer amounts to."""
    status = response.status_code
    if status == 401:
        raise Unauthorized(f"Prometheus at {where} refused the credentials (401)")
    if status == 403:
        raise Forbidden(f"Prometheus at {where} forbids this (403)")
    body = _json(response)
    if isinstance(body, dict) and body.get("status") == "error":
        _raise_query_error(status, body, where)
    if status >= 500:
        raise ConnectionFailed(f"Prometheus at {where} failed: HTTP {status} "
                               f"{one_line(response.reason or '')}".rstrip())
    if status != 200:
        raise ConfigError(f"no Prometheus API at {where}: HTTP {status} "
                          f"{one_line(response.reason or '')}".rstrip(),
                          hint="is it a Prometheus server?")
    if body is None:
        kind = one_line(response.headers.get("Content-Type", "")).split(";")[0] or "no type"
        raise ConfigError(f"{where} answered with {kind}, not Prometheus's JSON",
                          hint="is it a Prometheus server?")
    data = body.get("data") if isinstance(body, dict) else None
    if not (isinstance(body, dict) and body.get("status") == "success"
            and isinstance(data, dict) and _well_formed(data)):
        raise ConfigError(f"{where} answered JSON that is not a Prometheus query result",
                          hint="is it a Prometheus server?")
    return data


def _raise_query_error(status: int, body: dict[str, Any], where: str) -> None:
    kind = one_line(body.get("errorType") or "")
    text = one_line(body.get("error") or "no reason given")
    if kind in ("bad_data", "execution") or status in (400, 422):
        raise BadQuery(f"Prometheus rejected the query: {text}")
    if kind in ("timeout", "canceled"):
        raise QueryFailed(f"Prometheus at {where} gave up on the query ({kind}): {text}")
    raise QueryFailed(f"Prometheus at {where} failed the query (HTTP {status}"
                      f"{' ' + kind if kind else ''}): {text}")


def _well_formed(data: dict[str, Any]) -> bool:
    kind, result = data.get("resultType"), data.get("result")
    if kind in ("vector", "matrix"):
        return isinstance(result, list) and all(isinstance(r, dict) for r in result)
    if kind in ("scalar", "string"):
        return isinstance(result, list) and len(result) == 2
    return False
