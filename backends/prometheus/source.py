"""Prometheus as a metrics source (its HTTP API over a requests session).

One refresh of a screen is one batch: every query of the screen is issued at once on a
small thread pool, and the answers are joined into the panel values. A failure of the
whole endpoint (unreachable, refused, not Prometheus) raises, and the TUI keeps its last
good snapshot; a query Prometheus answers with an error lands in the snapshot's
``errors``, so the panel says so instead of showing "no series found".
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from mlops_tui.backends.errors import BackendError, ConfigError, Invalid
from mlops_tui.backends.metrics_models import MetricsSnapshot, Sample, Screen, Window
from mlops_tui.backends.models import HttpAuth, MetricsSettings
from mlops_tui.backends.prometheus import panels
from mlops_tui.backends.prometheus.api import PrometheusApi, QueryError, check_url
from mlops_tui.backends.prometheus.queries import SCREENS, Query

log = logging.getLogger(__name__)
_PROMQL_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")


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
    """Implements :class:`backends.protocols.MetricsSource` and
    :class:`backends.protocols.MetricsQuery`.

    Raises:
        ConfigError: ``url`` is not an http(s) URL with a host, or ``rate_window`` is not
            a PromQL duration (checked here, so a typo is reported when the source is
            built, not as empty panels).
    """

    name = "prometheus"

    def __init__(self, url: str, settings: MetricsSettings,
                 auth: HttpAuth | None = None, via: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.url = check_url(url)
        if not _PROMQL_DURATION.match(settings.rate_window or ""):
            raise ConfigError(f"invalid Prometheus rate_window {settings.rate_window!r}: "
                              "a PromQL duration like 1m or 30s")
        self.clock = clock  # the end of every window; tests over backfilled data fix it
        self.settings = settings
        self.via = via  # e.g. "service monitoring/prometheus-k8s via the API server"
        self._session = session_for(auth or HttpAuth(), settings)
        if self._session.verify is False:
            # the user asked for it: say so once in the log, not on every request's stderr
            # (which would scribble over the terminal UI)
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            log.warning("TLS verification of %s is off", redact_url(self.url))
        self._api = PrometheusApi(self.url, self._session, timeout=settings.timeout,
                                  where=self.describe())
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

    # -- one instant query (script checks) --------------------------------------------------
    async def instant(self, query: str) -> list[Sample]:
        loop = asyncio.get_running_loop()
        kind, result = await loop.run_in_executor(self._pool, self._api.query, query)
        self.queries_sent += 1
        if kind == "scalar":
            return [Sample({}, _number(result[1]))]
        if kind != "vector":
            raise Invalid(f"the query returns a {kind}, not an instant vector or a scalar",
                          hint="a range selector like [5m] belongs inside a function "
                               "such as rate()")
        return [Sample({str(k): str(v) for k, v in (item.get("metric") or {}).items()},
                       _number((item.get("value") or [None, None])[1]))
                for item in result]

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
        self.queries_sent += len(todo)
        if any(q.range for q, _ in todo):  # a new step: older windows are done with
            self._ranges = {k: v for k, v in self._ranges.items() if k[1] == end}
        errors: dict[str, str] = {}
        for (query, sel), answer in zip(todo, answers, strict=True):
            if isinstance(answer, list):
                results[query.name] = answer
                if query.range:
                    self._ranges[(query.render(sel, self.settings.rate_window), end)] = answer
            elif isinstance(answer, QueryError):
                errors[query.name] = str(answer)  # this query only: the panel says so
            elif isinstance(answer, BackendError) or not isinstance(answer, Exception):
                raise answer  # the endpoint failed (or we were cancelled): the caller goes stale
            else:  # a bug here: log it, and the other panels still show
                log.error("query %s failed", query.name, exc_info=answer)
                errors[query.name] = f"internal error: {answer.__class__.__name__} (see the log)"
        return panels.build(Screen(screen), window, now, results, len(todo), errors)

    def _run(self, query: Query, window: Window, end: float, sel: str) -> list[dict[str, Any]]:
        promql = query.render(sel, self.settings.rate_window)
        if query.range:
            return self._api.query_range(promql, end - window.seconds, end, window.step)
        kind, result = self._api.query(promql)
        if kind != "vector":  # every library query is an instant vector: tested
            raise QueryError(f"{query.name} returned a {kind}, not a vector")
        return result


def _number(raw: object) -> float:
    """A sample value as Prometheus writes it ("1.5", "NaN", "+Inf")."""
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _window_end(now: float, window: Window) -> float:
    """Up to the next step boundary: a window's points stay put between refreshes, and
    the newest sample is never left out."""
    return now + (-now % window.step)
