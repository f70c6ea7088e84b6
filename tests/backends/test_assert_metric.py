"""``assert_metric`` against the real test Prometheus (scraping the fixture DCGM exporter and
a real Triton server): holds, fails, no data, held for a while, and every way it cannot
even be checked (bad query, unreachable, a source without PromQL) as environment errors."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, Failure, execute
from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.demo.metrics import DemoMetricsSource
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource
from tests.servers.dcgm import UUID_BUSY

SPEC = ACTIONS["assert_metric"]
BUSY = 'DCGM_FI_DEV_GPU_UTIL{Hostname="gpu-node-1", gpu="0"}'  # the exporter serves 87


def request(**fields):
    return SPEC.request.model_validate(fields)


async def events_of(source, sleep=None, **fields) -> list:
    async def metrics():
        return source

    ctx = ActionContext(DemoBackend(), metrics=metrics if source is not None else None)
    if sleep is not None:
        ctx.sleep = sleep
    return [event async for event in execute(SPEC, ctx, request(**fields))]


@pytest.fixture
async def prometheus(prometheus_server, dcgm_exporter):
    source = PrometheusSource(prometheus_server.url, MetricsSettings(rate_window="15s"))
    yield source
    await source.close()


# -- the request ---------------------------------------------------------------------------------
def test_the_request_is_the_script_contract():
    req = request(query="up", op=">", value="0.5", **{"for": "30s"}, every="2s")
    assert (req.query, req.op, req.value, req.hold, req.every) == ("up", ">", 0.5, 30.0, 2.0)
    assert request(query="up", op="==", value=1).hold is None
    assert request(query="up", op="==", value=1).every == 5.0


@pytest.mark.parametrize(("fields", "where"), [
    ({"query": "up", "op": "=>", "value": 1}, "op"),
    ({"query": "up", "op": ">", "value": True}, "value"),
    ({"query": "up", "op": ">", "value": "inf"}, "value"),
    ({"query": "up", "op": ">", "value": "nan"}, "value"),
    ({"query": "up", "op": ">", "value": "lots"}, "value"),
    ({"query": "   ", "op": ">", "value": 1}, "query"),
    ({"query": "up", "op": ">", "value": 1, "for": "soon"}, "for"),
    ({"query": "up", "op": ">", "value": 1, "every": 0}, "every"),
    ({"query": "up", "op": ">", "value": 1, "hold": "5s"}, "hold"),  # the script says for
    ({"op": ">", "value": 1}, "query"),
])
def test_bad_requests_name_their_field(fields, where):
    with pytest.raises(ValidationError) as err:
        request(**fields)
    assert err.value.errors()[0]["loc"] == (where,)


# -- checks against the real server ----------------------------------------------------------------
async def test_a_condition_that_holds(prometheus):
    events = await events_of(prometheus, query=BUSY, op=">=", value=87)
    assert [e.kind for e in events] == [EventKind.STARTED, EventKind.OK]
    (value,) = events[-1].data["values"]
    assert value["value"] == 87.0 and value["labels"]["pod"] == "triton-0"
    assert events[-1].data["held_s"] < 5
    assert events[-1].message.endswith(" 87 >= 87")


async def test_every_series_must_hold(prometheus):
    both = await events_of(prometheus, query='DCGM_FI_DEV_GPU_UTIL{Hostname="gpu-node-1"}',
                           op=">=", value=0)
    assert both[-1].kind is EventKind.OK
    assert sorted(v["value"] for v in both[-1].data["values"]) == [0.0, 87.0]
    one_idle = await events_of(prometheus, query='DCGM_FI_DEV_GPU_UTIL{Hostname="gpu-node-1"}',
                               op=">", value=50)
    failed = one_idle[-1]
    assert failed.kind is EventKind.FAILED and failed.failure is Failure.CHECK
    assert 'gpu="1"' in failed.message and " 0 not > 50 " in failed.message
    assert 'gpu="0"' not in failed.message  # only the series that fail are named
    assert failed.data["reason"] == "false" and len(failed.data["values"]) == 2


async def test_no_data_is_its_own_failure(prometheus):
    events = await events_of(prometheus, query='DCGM_FI_DEV_GPU_UTIL{Hostname="nowhere"}',
                             op="<", value=1)
    failed = events[-1]
    assert failed.kind is EventKind.FAILED and failed.failure is Failure.CHECK
    assert failed.message.startswith("no data: ") and failed.data["reason"] == "no data"
    assert failed.data["values"] == []


async def test_scalars_and_nan(prometheus):
    ok = await events_of(prometheus, query="scalar(vector(3))", op="==", value=3)
    assert ok[-1].kind is EventKind.OK
    assert ok[-1].data["values"] == [{"labels": {}, "value": 3.0}]
    nan = await events_of(prometheus, query="vector(0) / 0", op="!=", value=1)
    assert nan[-1].kind is EventKind.FAILED and nan[-1].failure is Failure.CHECK
    assert nan[-1].data["values"] == [{"labels": {}, "value": "NaN"}]


async def test_held_for_a_while(prometheus):
    events = await events_of(prometheus, query=BUSY, op=">", value=50,
                             **{"for": "1500ms"}, every="500ms")
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.STARTED and kinds[-1] is EventKind.OK
    progress = [e for e in events if e.kind is EventKind.PROGRESS]
    assert len(progress) == 3  # checked at 0, 0.5, 1 and 1.5 s
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0 <= fractions[0] < fractions[-1] < 1
    assert all(e.data["values"][0]["value"] == 87.0 for e in progress)
    assert 1.5 <= events[-1].data["held_s"] < 5
    assert events[-1].message.endswith("> 50, held 1.5s")


async def test_a_condition_that_stops_holding_fails_at_once(prometheus, prometheus_server,
                                                            dcgm_exporter):
    sleeps = []

    async def sleep(seconds: float) -> None:  # the GPU goes idle during the first wait
        sleeps.append(seconds)
        dcgm_exporter.set(UUID_BUSY, "DCGM_FI_DEV_GPU_UTIL", 2)
        prometheus_server.wait_for(f"{BUSY} == 2", timeout=15)

    try:
        events = await events_of(prometheus, sleep, query=BUSY, op=">", value=50,
                                 **{"for": "60s"}, every="1s")
    finally:
        dcgm_exporter.set(UUID_BUSY, "DCGM_FI_DEV_GPU_UTIL", 87)
        prometheus_server.wait_for(f"{BUSY} == 87", timeout=15)
    assert sleeps == [1.0]  # the second check failed: no waiting out the minute
    failed = events[-1]
    assert failed.kind is EventKind.FAILED and failed.failure is Failure.CHECK
    assert " 2 not > 50 (after " in failed.message and "of 60s)" in failed.message
    assert [e.kind for e in events].count(EventKind.PROGRESS) == 1


async def test_the_issue_example_over_real_inference(prometheus_server, triton_server):
    triton_server.infer("resnet50", count=20)
    query = "sum(rate(nv_inference_request_success[15s]))"
    prometheus_server.wait_for(f"{query} > 0", timeout=20)
    source = PrometheusSource(prometheus_server.url, MetricsSettings())
    try:
        events = await events_of(source, query=query, op=">", value=0)
    finally:
        await source.close()
    assert events[-1].kind is EventKind.OK
    (total,) = events[-1].data["values"]
    assert total["value"] > 0 and total["labels"] == {}


# -- what cannot be checked is an environment error (exit 2), never a failed check ---------------
@pytest.mark.parametrize(("query", "problem"), [
    ("sum(rate(nv_inference_request_success[1m])", "Prometheus rejected the query: "),
    ("DCGM_FI_DEV_GPU_UTIL[1m]", "returns a matrix"),
])
async def test_a_query_prometheus_refuses(prometheus, query, problem):
    events = await events_of(prometheus, query=query, op=">", value=0)
    failed = events[-1]
    assert failed.kind is EventKind.FAILED and failed.failure is Failure.ENVIRONMENT
    assert problem in failed.message


async def test_an_unreachable_prometheus():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once the block ends
    source = PrometheusSource(f"http://127.0.0.1:{port}", MetricsSettings())
    try:
        events = await events_of(source, query="up", op=">", value=0)
    finally:
        await source.close()
    assert events[-1].failure is Failure.ENVIRONMENT
    assert "connection refused" in events[-1].message


async def test_the_demo_has_no_promql_and_says_so():
    events = await events_of(DemoMetricsSource(), query="up", op=">", value=0)
    failed = events[-1]
    assert failed.failure is Failure.ENVIRONMENT
    assert failed.message == "the demo metrics source has no PromQL: assert_metric needs Prometheus"


async def test_no_metrics_source_at_all():
    events = await events_of(None, query="up", op=">", value=0)
    assert events[-1].failure is Failure.ENVIRONMENT
    assert events[-1].message.startswith("no metrics source")
