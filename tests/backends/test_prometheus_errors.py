"""Errors are errors, never "no data": a bad URL, a server that is not Prometheus, a query
Prometheus rejects, a closed port. Against the real test Prometheus where it can produce
the case, and against small real HTTP servers on 127.0.0.1 that answer garbage (a wrong
URL in real life: a web page, another service's JSON)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import pytest

from mlops_tui.backends.errors import ConfigError, ConnectionFailed, Invalid
from mlops_tui.backends.metrics_models import Screen, Window
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource, create_source
from mlops_tui.backends.prometheus.queries import SCREENS, Query
from mlops_tui.backends.protocols import MetricsQuery
from tests.servers.canned import CannedServer

SETTINGS = MetricsSettings(rate_window="15s", timeout=5)


@pytest.fixture
def answering() -> Iterator:
    servers: list[CannedServer] = []

    def start(*args, **kwargs) -> CannedServer:
        servers.append(CannedServer(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def run(coro):
    return asyncio.run(coro)


def snapshot(url: str, screen: Screen = Screen.GPU, settings: MetricsSettings = SETTINGS):
    source = PrometheusSource(url, settings)
    try:
        return run(source.snapshot(screen, Window.M5))
    finally:
        run(source.close())


def instant(url: str, query: str, settings: MetricsSettings = SETTINGS):
    source = PrometheusSource(url, settings)
    try:
        return run(source.instant(query))
    finally:
        run(source.close())


# -- the URL and the settings, when the source is built ---------------------------------------
@pytest.mark.parametrize("url", ["not-a-url", "localhost:9090", "ftp://prometheus:9090",
                                 "http://", "http://:9090", "http://host:99999",
                                 "http://host:port", "  ", "http://[::1", "http://[/]"])
def test_a_bad_url_is_refused_when_the_source_is_built(url):
    with pytest.raises(ConfigError, match=r"invalid Prometheus URL.*expected http\(s\)://host"):
        PrometheusSource(url, SETTINGS)
    with pytest.raises(ConfigError, match="invalid Prometheus URL"):
        run(create_source(MetricsSettings(url=url), None))


def test_a_bad_url_with_credentials_is_not_repeated():
    with pytest.raises(ConfigError) as err:
        PrometheusSource("grafana:hunter2@prometheus:9090", SETTINGS)
    assert "hunter2" not in str(err.value) and "invalid Prometheus URL" in str(err.value)


def test_a_good_url_keeps_its_path():
    source = PrometheusSource("https://prom.example:9443/prometheus/", SETTINGS)
    assert source.url == "https://prom.example:9443/prometheus"
    run(source.close())


@pytest.mark.parametrize("window", ["1 minute", "", "1m]) or vector(1", "60"])
def test_a_bad_rate_window_is_refused_when_the_source_is_built(window):
    with pytest.raises(ConfigError, match="invalid Prometheus rate_window"):
        PrometheusSource("http://127.0.0.1:9", MetricsSettings(rate_window=window))


# -- not Prometheus ----------------------------------------------------------------------------
def test_a_web_page_answering_200_is_a_clear_error(answering):
    page = answering(200, "<html><body><h1>Welcome to nginx!</h1></body></html>",
                     "text/html; charset=utf-8")
    with pytest.raises(ConfigError, match=r"answered with text/html, not Prometheus's JSON "
                                          r"\(is it a Prometheus server\?\)"):
        snapshot(page.url)
    assert page.requests == 10  # every query of the screen was asked, none was believed
    with pytest.raises(ConfigError, match="not Prometheus's JSON"):
        instant(page.url, "up")


@pytest.mark.parametrize("body", [
    '[1, 2, 3]',
    '{"status": "success"}',
    '{"status": "success", "data": {"resultType": "vector", "result": {"a": 1}}}',
    '{"status": "success", "data": {"resultType": "vector", "result": [1, 2]}}',
    '{"kind": "Status", "apiVersion": "v1", "status": "Failure"}',
])
def test_json_of_another_shape_is_a_clear_error(answering, body):
    other = answering(200, body)
    with pytest.raises(ConfigError, match="answered JSON that is not a Prometheus query result"):
        snapshot(other.url)
    with pytest.raises(ConfigError, match="not a Prometheus query result"):
        instant(other.url, "up")


def test_a_404_is_no_prometheus_api(answering):
    missing = answering(404, "404 page not found", "text/plain")
    with pytest.raises(ConfigError, match=r"no Prometheus API at .*: HTTP 404"):
        snapshot(missing.url)


def test_a_proxy_500_page_is_a_failed_server(answering):
    broken = answering(500, "<html>Internal Server Error</html>", "text/html")
    with pytest.raises(ConnectionFailed, match=r"Prometheus at .* failed: HTTP 500"):
        snapshot(broken.url)


def test_a_server_that_does_not_answer_in_time(answering):
    slow = answering(200, "{}", delay=3.0)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match=r"timed out \(no answer in 0.5s\)"):
        instant(slow.url, "up", MetricsSettings(timeout=0.5))
    assert time.monotonic() - started < 2.5  # no slow retries behind the user's back


def test_a_closed_port_is_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens
    with pytest.raises(ConnectionFailed, match="cannot reach Prometheus at .*connection refused"):
        instant(f"http://127.0.0.1:{port}", "up")
    with pytest.raises(ConnectionFailed, match="connection refused"):
        snapshot(f"http://127.0.0.1:{port}")


def test_a_query_timeout_is_an_error_of_that_query(answering):
    # A mock of Prometheus's own 503 timeout answer: the real server does not time out on
    # demand (its --query.timeout is not reached by the small test TSDB's queries).
    timeout = answering(503, json.dumps({"status": "error", "errorType": "timeout",
                                         "error": "query timed out in expression evaluation"}))
    snap = snapshot(timeout.url)
    assert snap.gpus == () and snap.notes == ()  # not "no DCGM series found"
    assert len(snap.errors) == 10
    assert snap.errors[0] == ("gpu_util: Prometheus at " + timeout.url + " gave up on the "
                              "query (timeout): query timed out in expression evaluation")
    # Prometheus's own 503 is read, not retried as a gateway's would be: 1 try a query
    assert timeout.requests == 10


def test_a_gateway_503_is_tried_twice_then_a_failed_server(answering):
    gateway = answering(503, "no endpoints available for service", "text/plain")
    with pytest.raises(ConnectionFailed, match=r"Prometheus at .* failed: HTTP 503"):
        instant(gateway.url, "up")
    assert gateway.requests == 2


# -- the real Prometheus -------------------------------------------------------------------------
@pytest.fixture
def broken_gpu_query(monkeypatch):
    """The GPU screen's batch plus one query with a typo (the real server rejects it)."""
    broken = Query("gpu_broken", "rate(DCGM_FI_DEV_GPU_UTIL{sel}[{r}]", "a typo: no ')'")
    monkeypatch.setitem(SCREENS, Screen.GPU, (*SCREENS[Screen.GPU], broken))
    return broken


def test_a_rejected_query_is_shown_as_an_error_beside_the_rest(prometheus_server, dcgm_exporter,
                                                                broken_gpu_query):
    snap = snapshot(prometheus_server.url)
    assert snap.errors == ("gpu_broken: Prometheus rejected the query: invalid parameter "
                           "\"query\": 1:31: parse error: unclosed left parenthesis",)
    assert {(g.node, g.gpu) for g in snap.gpus} >= {("gpu-node-1", "0"), ("gpu-node-1", "1")}
    assert snap.queries == 11 and snap.notes == ()


def test_every_gpu_query_rejected_is_not_no_data(prometheus_server, monkeypatch):
    typo = tuple(Query(q.name, q.promql + ")", q.doc, q.range) for q in SCREENS[Screen.GPU])
    monkeypatch.setitem(SCREENS, Screen.GPU, typo)
    snap = snapshot(prometheus_server.url)
    assert snap.gpus == () and snap.nodes == ()
    assert snap.notes == ()  # never "no DCGM exporter series found" while queries fail
    assert len(snap.errors) == 10
    assert all("Prometheus rejected the query" in e and "parse error" in e for e in snap.errors)


def test_instant_answers_vectors_and_scalars(prometheus_server, dcgm_exporter):
    source = PrometheusSource(prometheus_server.url, SETTINGS)
    assert isinstance(source, MetricsQuery)
    try:
        (busy,) = run(source.instant('DCGM_FI_DEV_GPU_UTIL{gpu="0", Hostname="gpu-node-1"}'))
        assert busy.value == 87.0 and busy.labels["pod"] == "triton-0"
        assert busy.labels["__name__"] == "DCGM_FI_DEV_GPU_UTIL"
        (scalar,) = run(source.instant("scalar(vector(2.5))"))
        assert scalar.labels == {} and scalar.value == 2.5
        (nan,) = run(source.instant("vector(0) / 0"))
        assert nan.value != nan.value  # NaN, as Prometheus computed it
        assert run(source.instant("no_such_metric_anywhere")) == []
    finally:
        run(source.close())


@pytest.mark.parametrize(("query", "problem"), [
    ("rate(up[1m]", "Prometheus rejected the query: .*parse error"),
    # two GPUs on each side, no label to match them: Prometheus refuses to evaluate (422)
    ("DCGM_FI_DEV_GPU_UTIL + on() DCGM_FI_DEV_GPU_UTIL",
     "Prometheus rejected the query: found duplicate series for the match group"),
    ("DCGM_FI_DEV_GPU_UTIL[1m]", "returns a matrix, not an instant vector or a scalar"),
    ('"a string"', "returns a string"),
])
def test_instant_refuses_what_it_cannot_answer(prometheus_server, dcgm_exporter, query, problem):
    with pytest.raises(Invalid, match=problem):
        instant(prometheus_server.url, query)
