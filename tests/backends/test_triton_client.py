"""TritonClient against the real bare tritonserver 2.51 (CPU, Python-backend toy models),
over HTTP and over gRPC: health, metadata, config, statistics, the repository index,
load/unload, inference (FP32, BYTES, two inputs) and every error a user can meet. The
garbage answers come from small real HTTP servers on 127.0.0.1 (a web page, foreign JSON,
a server that never answers)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

from mlops_tui.backends.errors import (
    ConfigError,
    ConnectionFailed,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
)
from mlops_tui.backends.triton.client import TritonClient
from mlops_tui.backends.triton.inputs import build_inputs
from mlops_tui.backends.triton.tensors import InputTensor, TritonEndpoint
from tests.servers.canned import CannedServer
from tests.servers.fixtures import require_servers
from tests.servers.triton import (
    BROKEN_MODEL,
    DEFAULT_MODELS,
    INPUT_NAME,
    OUTPUT_NAME,
    REJECT_VALUE,
    TEXT_MODEL,
    TWO_INPUT_MODEL,
    ModelSpec,
    TritonError,
    TritonServer,
    write_model_repository,
)

SECRET = "Bearer sekrit-token-42"
HTML = "<!doctype html><html><title>Welcome to nginx!</title><body>It works</body></html>"


@pytest.fixture(scope="module")
def triton() -> Iterator[TritonServer]:
    """One server for this module: the default models plus a BYTES and a two-input one."""
    require_servers("triton")
    server = TritonServer([*DEFAULT_MODELS, TEXT_MODEL, TWO_INPUT_MODEL])
    try:
        server.start()
    except TritonError as e:
        server.close()
        pytest.fail(f"tritonserver did not start: {e}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(params=["http", "grpc"])
def protocol(request) -> str:
    return request.param


def endpoint_of(triton: TritonServer, protocol: str, **kwargs) -> TritonEndpoint:
    address = triton.grpc_address if protocol == "grpc" else f"127.0.0.1:{triton.http_port}"
    return TritonEndpoint(address, protocol=protocol, **kwargs)


@pytest.fixture
async def client(triton: TritonServer, protocol: str):
    # a header with every call, as a bearer token would be: Triton ignores it
    async with TritonClient(endpoint_of(triton, protocol, headers={"Authorization": SECRET})
                            ) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ health and metadata


async def test_health_and_server_metadata(client: TritonClient) -> None:
    assert await client.server_live() is True
    assert await client.server_ready() is True
    meta = await client.server_metadata()
    assert meta["name"] == "triton" and meta["version"] == "2.51.0"
    assert "model_repository" in meta["extensions"]


async def test_model_metadata_and_config(client: TritonClient) -> None:
    meta = await client.model_metadata("resnet50")
    assert meta.name == "resnet50" and meta.versions == ("1",) and meta.platform == "python"
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [(INPUT_NAME, "FP32", (-1, 4))]
    assert [(t.name, t.shape) for t in meta.outputs] == [(OUTPUT_NAME, (-1, 4))]
    assert (await client.model_metadata("resnet50", "1")).name == "resnet50"
    config = await client.model_config("resnet50")
    # the same shape over both protocols: numbers as numbers, enum names
    assert config["max_batch_size"] == 8
    assert config["input"][0]["dims"] == [4]
    assert config["input"][0]["data_type"] == "TYPE_FP32"
    assert config["parameters"]["delay_ms"]["string_value"] == "0"
    assert await client.model_ready("resnet50") and await client.model_ready("resnet50", "1")


# ------------------------------------------------------------------ inference


async def test_infer_fp32_returns_the_input(client: TritonClient) -> None:
    meta = await client.model_metadata("resnet50")
    inputs = build_inputs(meta, "random", batch_size=3, max_batch_size=8, seed=7)
    result = await client.infer("resnet50", inputs)
    out = result.output(OUTPUT_NAME)
    assert result.model == "resnet50" and result.latency_s > 0
    assert out.datatype == "FP32" and out.shape == (3, 4)
    np.testing.assert_array_equal(out.array, inputs[0].array)
    assert out.preview(max_items=2).startswith(f"{OUTPUT_NAME} FP32[3,4] = [")
    assert out.preview(max_items=2).endswith("… +10 more]")


async def test_infer_bytes(client: TritonClient) -> None:
    text = np.array([["hello"], ["wörld [b]x[/b]"]], dtype=object)
    sent = [InputTensor("TEXT", "BYTES", np.vectorize(str.encode, otypes=[object])(text))]
    result = await client.infer("text_upper", sent)
    assert result.output("UPPER").array.reshape(-1).tolist() == [
        b"HELLO", "WöRLD [B]X[/B]".encode()]
    assert result.output("LENGTH").array.reshape(-1).tolist() == [5, 15]
    assert result.output("UPPER").values() == "['HELLO', 'WöRLD [B]X[/B]']"
    # random BYTES inputs built from the metadata go through as well
    meta = await client.model_metadata("text_upper")
    generated = build_inputs(meta, "random", batch_size=4, max_batch_size=8, seed=1)
    upper = (await client.infer("text_upper", generated)).output("UPPER").array
    assert upper.reshape(-1).tolist() == [v.upper() for v in generated[0].array.reshape(-1)]


async def test_infer_two_inputs_built_from_metadata(client: TritonClient) -> None:
    meta = await client.model_metadata("two_inputs")
    assert [(t.name, t.datatype, t.shape) for t in meta.inputs] == [
        ("VALUES", "FP32", (-1,)), ("OFFSET", "INT64", (2,))]
    inputs = build_inputs(meta, "random", seed=3)  # no batching: -1 → 1
    values, offset = (t.array for t in inputs)
    result = await client.infer("two_inputs", inputs)
    assert result.output("SUM").array.tolist() == pytest.approx(
        [float(values.sum()) + float(offset.sum())])


async def test_failing_inference_is_invalid_with_tritons_message(client: TritonClient) -> None:
    refused = np.array([[REJECT_VALUE, 0, 0, 0]], dtype=np.float32)
    with pytest.raises(Invalid, match="refused on purpose"):
        await client.infer("resnet50", [InputTensor(INPUT_NAME, "FP32", refused)])
    wrong = np.zeros((1, 5), dtype=np.float32)
    with pytest.raises(Invalid, match=r"unexpected shape for input 'INPUT__0'") as err:
        await client.infer("resnet50", [InputTensor(INPUT_NAME, "FP32", wrong)])
    assert "\n" not in str(err.value)


async def test_unknown_model_is_not_found(client: TritonClient) -> None:
    for call in (client.model_metadata("nope"), client.model_config("nope"),
                 client.infer("nope", [InputTensor("X", "FP32", np.zeros((1,), np.float32))])):
        with pytest.raises(NotFound, match="unknown model: 'nope'"):
            await call
    assert await client.model_ready("nope") is False
    with pytest.raises(NotFound, match="requested model 'nope' is not available"):
        await client.statistics("nope")


# ------------------------------------------------------------------ statistics, repository


async def test_statistics_count_requests(client: TritonClient, triton: TritonServer) -> None:
    before = {s.name: s for s in await client.statistics("bert")}["bert"]
    triton.infer("bert", count=3, batch=2)
    after = (await client.statistics("bert"))[0]
    assert after.name == "bert" and after.version == "1"
    assert after.success_count == before.success_count + 3
    assert after.inference_count == before.inference_count + 6
    assert after.avg_compute_us >= 20_000  # the model sleeps 20 ms per request
    assert after.last_inference_ms > 0
    assert {"bert", "resnet50", "text_upper"} <= {s.name for s in await client.statistics()}


async def test_repository_index_load_unload(client: TritonClient, triton: TritonServer,
                                            protocol: str) -> None:
    spare = f"spare_{protocol}"
    write_model_repository(triton.model_repository, [ModelSpec(spare)])
    index = {m.name: m for m in await client.repository_index()}
    assert index["resnet50"].state == "READY" and index["resnet50"].version == "1"
    assert spare in index and index[spare].state != "READY"
    await client.load(spare)
    assert await client.model_ready(spare)
    assert {m.name: m.state for m in await client.repository_index()}[spare] == "READY"
    await client.unload(spare)
    deadline = time.monotonic() + 20
    while await client.model_ready(spare) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not await client.model_ready(spare)


async def test_failing_load_is_invalid_with_tritons_message(client: TritonClient,
                                                            triton: TritonServer) -> None:
    write_model_repository(triton.model_repository, [BROKEN_MODEL])
    with pytest.raises(Invalid, match="this model refuses to load"):
        await client.load("broken")
    index = {m.name: m for m in await client.repository_index()}
    assert index["broken"].state == "UNAVAILABLE"
    assert "refuses to load" in index["broken"].reason


# ------------------------------------------------------------------ what is not Triton


async def test_dead_port_is_connection_failed(protocol: str) -> None:
    """Nothing listens: refused at once (not after the 5 s limit: the message says why)."""
    port = free_port()
    endpoint = TritonEndpoint(f"127.0.0.1:{port}", protocol=protocol, headers={"x": SECRET})
    async with TritonClient(endpoint, timeout_s=5) as client:
        for call in (client.server_live(), client.model_metadata("m"),
                     client.repository_index()):
            with pytest.raises(ConnectionFailed, match=f"cannot reach Triton at .*:{port}") as e:
                await call
            assert "sekrit" not in str(e.value) and "within" not in str(e.value)


async def test_silent_server_times_out(protocol: str) -> None:
    """A port that accepts connections and never answers: the call ends at timeout_s."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections queue in the backlog, nothing is ever read
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        async with TritonClient(TritonEndpoint(address, protocol=protocol), timeout_s=0.5
                                ) as client:
            with pytest.raises(ConnectionFailed, match=r"within 0.5s"):
                await client.server_metadata()


async def test_web_page_is_not_a_triton_server() -> None:
    with CannedServer(200, HTML, "text/html") as web:
        endpoint = TritonEndpoint(web.url.removeprefix("http://"), headers={"a": SECRET})
        async with TritonClient(endpoint) as client:
            for call in (client.server_metadata(), client.model_metadata("m"),
                         client.statistics(), client.repository_index(),  # POST: 501 page
                         client.infer("m", [InputTensor("X", "FP32", np.zeros(1, np.float32))])):
                with pytest.raises((ConnectionFailed, ConfigError),
                                   match="is not a Triton server") as e:
                    await call
                assert "sekrit" not in str(e.value) and "<html" not in str(e.value)


async def test_web_page_over_grpc_is_connection_failed() -> None:
    with CannedServer(200, HTML, "text/html") as web:
        endpoint = TritonEndpoint(web.url.removeprefix("http://"), protocol="grpc")
        async with TritonClient(endpoint, timeout_s=5) as client:
            with pytest.raises(ConnectionFailed, match=web.url.removeprefix("http://")):
                await client.server_metadata()


async def test_foreign_json_is_not_a_triton_server() -> None:
    with CannedServer(200, '{"status": "ok", "items": [1, 2]}') as api:
        async with TritonClient(TritonEndpoint(api.url.removeprefix("http://"))) as client:
            for call in (client.server_metadata(), client.model_metadata("m"),
                         client.model_config("m"), client.statistics()):
                with pytest.raises(ConfigError, match="is not a Triton server"):
                    await call


async def test_server_error_answer_keeps_its_message() -> None:
    """An error body in Triton's shape from a proxy: the message is kept, as one line."""
    body = '{"error": "quota exceeded\\n\\u001b[31mtry later"}'
    with CannedServer(429, body) as proxy:
        async with TritonClient(TritonEndpoint(proxy.url.removeprefix("http://"))) as client:
            with pytest.raises(Invalid) as e:
                await client.model_metadata("m")
    assert str(e.value) == "model m metadata: quota exceeded [31mtry later"


@pytest.mark.parametrize(("status", "error"), [(401, Unauthorized), (403, Forbidden)])
async def test_refused_credentials(status: int, error: type) -> None:
    """What an auth proxy in front of Triton answers (Triton itself has no auth)."""
    with CannedServer(status, '{"error": "token rejected"}') as proxy:
        endpoint = TritonEndpoint(proxy.url.removeprefix("http://"), headers={"a": SECRET})
        async with TritonClient(endpoint) as client:
            with pytest.raises(error) as e:
                await client.server_metadata()
    assert "sekrit" not in str(e.value)


def test_repr_hides_headers() -> None:
    client = TritonClient(TritonEndpoint("127.0.0.1:1", headers={"Authorization": SECRET}))
    assert "sekrit" not in repr(client) and "sekrit" not in repr(client.endpoint)


# ------------------------------------------------------------------ pure: recorded answers

#: recorded from tritonserver 2.51 here: the same statistics over HTTP and over gRPC
#: (as_json: 64-bit numbers as strings, zero counts left out)
STATS_HTTP = {"model_stats": [{
    "name": "bert", "version": "1", "last_inference": 1796208892987, "inference_count": 4,
    "execution_count": 2, "inference_stats": {
        "success": {"count": 2, "ns": 92907424}, "fail": {"count": 0, "ns": 0},
        "queue": {"count": 2, "ns": 1317701}, "compute_input": {"count": 2, "ns": 273462},
        "compute_infer": {"count": 2, "ns": 90818036},
        "compute_output": {"count": 2, "ns": 487575}}}]}
STATS_GRPC = {"model_stats": [{
    "name": "bert", "version": "1", "last_inference": "1796208892987", "inference_count": "4",
    "execution_count": "2", "inference_stats": {
        "success": {"count": "2", "ns": "92907424"}, "fail": {},
        "queue": {"count": "2", "ns": "1317701"},
        "compute_input": {"count": "2", "ns": "273462"},
        "compute_infer": {"count": "2", "ns": "90818036"},
        "compute_output": {"count": "2", "ns": "487575"}}}]}


def test_statistics_parse_alike_from_both_protocols() -> None:
    from mlops_tui.backends.triton.results import ModelStats, parse_statistics

    expected = ModelStats(name="bert", version="1", inference_count=4, execution_count=2,
                          success_count=2, failure_count=0, avg_queue_us=658.8505,
                          avg_compute_us=45789.5365, last_inference_ms=1796208892987)
    assert parse_statistics(STATS_HTTP) == parse_statistics(STATS_GRPC) == [expected]
    assert parse_statistics({"model_stats": [{"name": "new"}]})[0].avg_queue_us == 0.0
    assert parse_statistics({}) == []  # gRPC, no model loaded
    with pytest.raises(KeyError):
        parse_statistics({"status": "ok"})


def test_metadata_and_index_parse_alike_from_both_protocols() -> None:
    from mlops_tui.backends.triton.results import parse_model_metadata, parse_repository_index

    grpc_meta = {"name": "bert", "versions": ["1"], "platform": "python",
                 "inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": ["-1", "4"]}],
                 "outputs": [{"name": "OUTPUT__0", "datatype": "FP32", "shape": ["-1", "4"]}]}
    assert parse_model_metadata(grpc_meta).inputs[0].shape == (-1, 4)
    http_index = [{"name": "bert", "version": "1", "state": "READY"},
                  {"name": "gone", "state": "UNAVAILABLE", "reason": "unloaded"}]
    parsed = parse_repository_index(http_index)
    assert parsed == parse_repository_index({"models": http_index})
    assert (parsed[1].version, parsed[1].state, parsed[1].reason) == ("", "UNAVAILABLE",
                                                                      "unloaded")
    assert parse_repository_index({}) == []  # gRPC, empty repository
    for garbage in ({"models": "x"}, {"status": "ok"}, "text"):
        with pytest.raises((KeyError, TypeError)):
            parse_repository_index(garbage)


def test_server_text_is_plain_one_line() -> None:
    from mlops_tui.backends.triton.results import parse_model_metadata, plain

    assert plain("bad\x1b[31m red\r\nline\x00") == "bad[31m red line"
    assert len(plain("x" * 10_000)) == 500
    meta = parse_model_metadata({"name": "m\x1b]0;title\x07", "inputs": [
        {"name": "in\nput", "datatype": "FP32", "shape": [1]}]})
    assert meta.name == "m]0;title" and meta.inputs[0].name == "in put"


def test_previews() -> None:
    from mlops_tui.backends.triton.preview import format_value, preview_array
    from mlops_tui.backends.triton.results import OutputTensor

    assert preview_array(np.arange(20, dtype=np.int64), 3) == "[0, 1, 2, … +17 more]"
    assert preview_array(np.array([], np.float32)) == "[]"
    assert preview_array(np.array([True, False])) == "[true, false]"
    assert preview_array(np.array([0.1, 1e-9], np.float16)) == "[0.0999756, 0]"
    assert format_value(b"it's\n[red]" + b"x" * 60) == "'it\\'s\\n[red]" + "x" * 27 + "…'"
    assert format_value(b"\xff\xfe") == "'\ufffd\ufffd'"
    out = OutputTensor("OUT\x1b", "BYTES", (1,), np.array([b"a"], dtype=object))
    assert out.preview() == "OUT\\x1b BYTES[1] = ['a']"
