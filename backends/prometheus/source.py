"""Prometheus as a metrics source (prometheus-api-client over a requests session).

One refresh of a screen is one batch: every query of the screen is issued at once on a
small thread pool, and the answers are joined into the panel values. Connection and auth
failures raise :mod:`backends.errors` exceptions; the TUI keeps its last good snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from mlops_tui.backends.errors import BackendError, ConnectionFailed, Forbidden, Unauthorized
from mlops_tui.backends.metrics_models import MetricsSnapshot, Screen, Window
from mlops_tui.backends.models import HttpAuth, MetricsSettings
from mlops_tui.backends.prometheus import panels
from mlops_tui.backends.prometheus.queries import SCREENS, Query

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """``url`` without user:password, for headers and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def session_for(auth: HttpAuth, settings: MetricsSettings) -> requests.Session:
    session = requests.Session()
    session.headers.update(auth.headers)
    if settings.bearer_token:
        session.headers["Authorization"] = f"Bearer {settings.bearer_token}"
    if settings.username is not None:
        session.auth = (settings.username, settings.password or "")
    session.cert = auth.cert
    if not settings.verify:
        session.verify = False
    elif settings.ca_file:
        session.verify = settings.ca_file
    else:
        session.verify = auth.verify
    return session


class PrometheusSource:
    """Implements :class:`backends.protocols.MetricsSource`."""

    name = "prometheus"

    def __init__(self, url: str, settings: MetricsSettings,
                 auth: HttpAuth | None = None, via: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self.clock = clock  # the end of every window; tests over backfilled data fix it
        self.settings = settings
        self.via = via  # e.g. "service monitoring/prometheus-k8s via the API server"
        self._session = session_for(auth or HttpAuth(), settings)
        if self._session.verify is False:
            # the user asked for it: say so once in the log, not on every request's stderr
            # (which would scribble over the terminal UI)
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            log.warning("TLS verification of %s is off", redact_url(self.url))
        # The client's default retries (3, with 1 s backoff) would hold a failing refresh
        # for ~7 s; the panels retry on their own schedule, so fail fast here: one retry,
        # only for a gateway answering 502-504 (a service proxy between pods restarting).
        retry = Retry(total=1, connect=0, read=0, status=1, backoff_factor=0.2,
                      status_forcelist=(502, 503, 504), allowed_methods=None)
        self._client = PrometheusConnect(url=self.url, session=self._session,
                                         timeout=settings.timeout, retry=retry,
                                         disable_ssl=self._session.verify is False)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prometheus")
        self.queries_sent = 0
        # range answers by (promql, window end): a window ends on a step boundary, so
        # until the next boundary a range query would return the very same points
        self._ranges: dict[tuple[str, float], list[dict[str, Any]]] = {}

    def describe(self) -> str:
        return self.via or redact_url(self.url)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    # -- one batched round ----------------------------------------------------------------
    async def snapshot(self, screen: Screen, window: Window, *, node: str | None = None,
                       model: str | None = None, pods: str | None = None) -> MetricsSnapshot:
        queries = SCREENS[Screen(screen)]
        now = self.clock()
        loop = asyncio.get_running_loop()
        end = _window_end(now, window)
        results: dict[str, list[dict[str, Any]]] = {}
        todo = []
        for query in queries:
            sel = panels.selector(query, node=node, model=model, pods=pods)
            cached = self._ranges.get((query.render(sel, self.settings.rate_window), end)) \
                if query.range else None
            if cached is not None:
                results[query.name] = cached
            else:
                todo.append((query, sel))
        futures = [loop.run_in_executor(self._pool, self._run, query, window, end, sel)
                   for query, sel in todo]
        answers = await asyncio.gather(*futures, return_exceptions=True)
        if any(q.range for q, _ in todo):  # a new step: older windows are done with
            self._ranges = {k: v for k, v in self._ranges.items() if k[1] == end}
        for (query, sel), answer in zip(todo, answers, strict=True):
            if isinstance(answer, (ConnectionFailed, Unauthorized, Forbidden)):
                raise answer  # the whole refresh failed: the caller goes stale
            if isinstance(answer, BaseException):
                log.warning("query %s failed: %s", query.name, answer)
                results[query.name] = []
            else:
                results[query.name] = answer
                if query.range:
                    self._ranges[(query.render(sel, self.settings.rate_window), end)] = answer
        self.queries_sent += len(todo)
        return panels.build(Screen(screen), window, now, results, len(todo))

    def _run(self, query: Query, window: Window, end: float, sel: str) -> list[dict[str, Any]]:
        promql = query.render(sel, self.settings.rate_window)
        try:
            if query.range:
                return self._client.custom_query_range(
                    promql, start_time=_dt(end - window.seconds), end_time=_dt(end),
                    step=str(window.step))
            return self._client.custom_query(promql)
        except requests.exceptions.SSLError:
            raise ConnectionFailed(f"TLS failed talking to {self.describe()}",
                                   hint="check --prometheus-ca-file") from None
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "unreachable"
            raise ConnectionFailed(f"cannot reach Prometheus at {self.describe()}: "
                                   f"{reason}") from None
        except requests.exceptions.RetryError:
            raise ConnectionFailed(f"Prometheus at {self.describe()} is unavailable "
                                   "(502-504 from a proxy or gateway)") from None
        except requests.exceptions.Timeout:
            raise ConnectionFailed(f"Prometheus at {self.describe()} timed out") from None
        except PrometheusApiClientException as exc:
            raise _api_error(str(exc), self.describe()) from None


def _window_end(now: float, window: Window) -> float:
    """Up to the next step boundary: a window's points stay put between refreshes, and
    the newest sample is never left out."""
    return now + (-now % window.step)


def _api_error(text: str, where: str) -> BackendError:
    if "Status Code 401" in text:
        return Unauthorized(f"Prometheus at {where} refused the credentials (401)")
    if "Status Code 403" in text:
        return Forbidden(f"Prometheus at {where} forbids this (403)")
    return BackendError(f"Prometheus query failed: {text[:200]}")


def _dt(epoch: float):
    from datetime import datetime

    return datetime.fromtimestamp(epoch, tz=UTC)
