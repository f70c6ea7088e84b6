"""The Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over a requests
session, with every way it can fail turned into a clear :mod:`backends.errors` exception.

What Prometheus itself answers: 200 ``{"status": "success", "data": {"resultType",
"result"}}``; for a query it rejects, 400 ``bad_data`` or 422 ``execution``; for one it gave
up on, 503 ``timeout``: each ``{"status": "error", "errorType", "error"}``. Anything else
(an HTML page from a wrong URL, a proxy's error page, JSON of another shape) is not
Prometheus speaking, and is said so instead of being read as "no series".

The HTTP calls go through ``prometheus_api_client.PrometheusConnect``; this module maps
how that library fails (see :func:`_status_and_body`) onto those errors.
"""

from __future__ import annotations

import ast
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NoReturn

import requests
from prometheus_api_client import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    ConnectionFailed,
    Forbidden,
    Invalid,
    Unauthorized,
)
from mlops_tui.backends.urls import check_http_url

_MAX_TEXT = 300  # of a server's error text in a message: one readable line
_GATEWAY = (502, 503, 504)
_GATEWAY_RETRY_DELAY_S = 0.2
# the library's text for a non-200 answer: "HTTP Status Code {status} ({content!r})"
_NOT_200 = re.compile(r"HTTP Status Code (\d{3}) \((b'.*'|b\".*\")\)", re.DOTALL)


class QueryError(BackendError):
    """Prometheus answered this one query with its own error. The other queries of a batch
    may still work: a panel lists the error and shows the rest."""


class BadQuery(QueryError, Invalid):
    """400 ``bad_data`` / 422 ``execution``: the query itself is wrong."""


class QueryFailed(QueryError, ConnectionFailed):
    """503 ``timeout``, ``canceled``, 500 ``internal``: Prometheus could not finish it."""


def check_url(url: str) -> str:
    """``url`` once it is an http(s) URL with a host (see :func:`check_http_url`)."""
    return check_http_url(url, "Prometheus URL")


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
        # The library hands back only data.result, or its exception text: what else a
        # message needs of the answer (its Content-Type, its reason) is kept here by a
        # response hook, per thread, as the source's pool runs queries side by side.
        self._last = threading.local()
        session.hooks["response"].append(self._remember)
        # Fail fast, as requests does by default: the panels retry on their own schedule
        # (the library's own default retries 3 times with back-off). The session brings the
        # headers, auth, client certificate and CA file; the library passes its verify per
        # request, so REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE cannot override a CA file.
        self._client = PrometheusConnect(self.url, session=session, timeout=timeout,
                                         retry=Retry(total=0, read=False))

    def query(self, promql: str, at: float | None = None) -> tuple[str, Any]:
        """An instant query: ``(resultType, result)`` as Prometheus sends them."""
        params = {} if at is None else {"time": at}
        result = self._call(lambda: self._client.custom_query(promql, params=params))
        kind = _result_type(result)
        if kind is None:
            raise self._not_a_result()
        # no series: as an instant query's usual vector (a range selector's empty matrix
        # cannot be told from it)
        return ("vector" if kind == "empty" else kind), result

    def query_range(self, promql: str, start: float, end: float,
                    step: float) -> list[dict[str, Any]]:
        """A range query: ``[{"metric": {...}, "values": [[ts, "v"], ...]}, ...]``."""
        # The library wants datetimes and rounds them to whole seconds; the params it merges
        # last carry the exact window ends (a window ends on a step boundary, to the float).
        exact = {"start": start, "end": end}
        result = self._call(lambda: self._client.custom_query_range(
            promql, _utc(start), _utc(end), step, params=exact))
        if not (isinstance(result, list) and _result_type(result) in ("matrix", "empty")):
            raise self._not_a_result()
        return result

    def _call(self, send: Callable[[], Any]) -> Any:
        # One retry, only for a gateway answering 502-504 (a service proxy between pods
        # restarting); Prometheus's own 503 (a query timeout, with its error JSON) is an
        # answer, not retried.
        try:
            return self._send(send)
        except PrometheusApiClientException as exc:
            status, body = self._status_and_body(exc)
            if status not in _GATEWAY or _is_prometheus_error(body):
                self._raise_for(status, body)
        time.sleep(_GATEWAY_RETRY_DELAY_S)
        try:
            return self._send(send)
        except PrometheusApiClientException as exc:
            self._raise_for(*self._status_and_body(exc))

    def _send(self, send: Callable[[], Any]) -> Any:
        self._last.content_type, self._last.reason, self._last.status = "", "", None
        try:
            return send()
        except requests.exceptions.JSONDecodeError:  # a 200 that is not JSON (an HTML page)
            # before RequestException: requests' JSONDecodeError is one of those too
            kind = one_line(self._last.content_type).split(";")[0] or "no type"
            raise ConfigError(f"{self.where} answered with {kind}, not Prometheus's JSON",
                              hint="is it a Prometheus server?") from None
        except (KeyError, TypeError):  # a 200 JSON without data.result
            raise self._not_a_result() from None
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

    def _remember(self, response: requests.Response, **_: Any) -> None:
        """The session's response hook: runs in the thread that sent the request."""
        self._last.content_type = response.headers.get("Content-Type", "")
        self._last.reason = response.reason or ""
        self._last.status = response.status_code

    def _status_and_body(self, exc: PrometheusApiClientException) -> tuple[int | None, Any]:
        """The status and the parsed JSON body (None if not JSON) of a non-200 answer.

        The library keeps neither on its exception, only the text
        ``HTTP Status Code {status} ({content!r})``: that text is its format, not ours, and
        may change. Should it not match, the status comes from the response hook and the
        body counts as not Prometheus's (the answer is still an error, less precisely named).
        """
        match = _NOT_200.fullmatch(str(exc))
        if match is None:
            return self._last.status, None
        try:
            return int(match[1]), _json(ast.literal_eval(match[2]))
        except (ValueError, SyntaxError):  # a bytes repr that is not one after all
            return int(match[1]), None

    def _raise_for(self, status: int | None, body: Any) -> NoReturn:
        """The error a non-200 answer amounts to."""
        where = self.where
        if status is None:
            raise ConnectionFailed(f"Prometheus at {where} failed: an answer that is not 200")
        if status == 401:
            raise Unauthorized(f"Prometheus at {where} refused the credentials (401)")
        if status == 403:
            raise Forbidden(f"Prometheus at {where} forbids this (403)")
        if _is_prometheus_error(body):
            _raise_query_error(status, body, where)
        reason = one_line(self._last.reason or _phrase(status))
        if status >= 500:
            raise ConnectionFailed(f"Prometheus at {where} failed: HTTP {status} "
                                   f"{reason}".rstrip())
        raise ConfigError(f"no Prometheus API at {where}: HTTP {status} {reason}".rstrip(),
                          hint="is it a Prometheus server?")

    def _not_a_result(self) -> ConfigError:
        return ConfigError(f"{self.where} answered JSON that is not a Prometheus query result",
                           hint="is it a Prometheus server?")


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:  # not JSON at all (an HTML page, plain text, nothing)
        return None


def _is_prometheus_error(body: Any) -> bool:
    return isinstance(body, dict) and body.get("status") == "error"


def _raise_query_error(status: int, body: dict[str, Any], where: str) -> NoReturn:
    kind = one_line(body.get("errorType") or "")
    text = one_line(body.get("error") or "no reason given")
    if kind in ("bad_data", "execution") or status in (400, 422):
        raise BadQuery(f"Prometheus rejected the query: {text}")
    if kind in ("timeout", "canceled"):
        raise QueryFailed(f"Prometheus at {where} gave up on the query ({kind}): {text}")
    raise QueryFailed(f"Prometheus at {where} failed the query (HTTP {status}"
                      f"{' ' + kind if kind else ''}): {text}")


def _result_type(result: Any) -> str | None:
    """Prometheus's ``resultType`` told from ``data.result`` alone (all the library returns):
    vector items carry "value" (or "histogram"), matrix items "values" (or "histograms"),
    a scalar or a string is ``[time, "text"]``; "empty" for no series (either kind); None
    for anything else. A scalar's text is a number: a string literal like ``"1"`` reads
    as a scalar, the one case the shape cannot tell."""
    if not isinstance(result, list):
        return None
    if not result:
        return "empty"
    if all(isinstance(r, dict) and ("value" in r or "histogram" in r) for r in result):
        return "vector"
    if all(isinstance(r, dict) and ("values" in r or "histograms" in r) for r in result):
        return "matrix"
    if (len(result) == 2 and isinstance(result[0], int | float)
            and not isinstance(result[0], bool) and isinstance(result[1], str)):
        try:
            float(result[1])
        except ValueError:
            return "string"
        return "scalar"
    return None
