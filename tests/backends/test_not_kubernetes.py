"""A kubeconfig pointing at something that is not a Kubernetes API server.

The server here is real (http.server on 127.0.0.1, see odd_server.py) and answers 200 with
bodies no API server sends: a web page, a JSON list, JSON objects of the wrong shape. Every
case must end in one clear error (exit 2 at the CLI), never a decoding traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlops_tui.backends.errors import BackendError, ConnectionFailed
from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.kubernetes import config as kubeconfig
from mlops_tui.backends.kubernetes.transport import NotKubernetes, Transport
from mlops_tui.backends.models import BackendSettings
from tests.backends.odd_server import OddServer, config_for

NOT_K8S = "answered with something that is not the Kubernetes API"
TOKEN = "odd-token-123"
MLOPS_TUI = Path(sys.executable).with_name("mlops-tui")

VERSION = b'{"major": "1", "minor": "30", "gitVersion": "v1.30.0"}'
GROUPS = b'{"kind": "APIGroupList", "groups": []}'

# (what the server answers: default body, {path: JSON body}), what the error must say
CASES = {
    "web page": ((None, {}), "GET /version: not JSON, it starts '<!doctype html>"),
    "JSON list": ((b"[1, 2, 3]", {}), "GET /version: a JSON list, not an object"),
    "JSON string": ((b'"ok"', {}), "GET /version: a JSON str, not an object"),
    "version without gitVersion": ((None, {"/version": b'{"status": "ok"}'}),
                                   "GET /version: no gitVersion in the answer"),
    "no API groups": ((None, {"/version": VERSION, "/apis": b'{"groups": "all"}'}),
                      "GET /apis: no list of API groups"),
    "core group is a web page": ((None, {"/version": VERSION, "/apis": GROUPS}),
                                 "GET /api/v1: not JSON"),
    "core group of the wrong shape": (
        (None, {"/version": VERSION, "/apis": GROUPS, "/api/v1": b'{"resources": 7}'}),
        "GET /api/v1: no list of resources"),
}


def odd_server(case: str) -> OddServer:
    (default, bodies), _ = CASES[case]
    server = OddServer() if default is None else OddServer(default, "application/json")
    server.bodies.update(bodies)
    return server


@pytest.mark.parametrize("case", CASES)
def test_connect_gives_one_clear_error(case, tmp_path):
    with odd_server(case) as server:
        path = server.kubeconfig(tmp_path / "config", token=TOKEN)
        backend = KubernetesBackend(BackendSettings(kubeconfig=str(path), request_timeout=5))
        with pytest.raises(ConnectionFailed) as err:
            asyncio.run(backend.connect())
    message = str(err.value)
    assert f"{server.url} {NOT_K8S}: " in message
    assert CASES[case][1] in message
    assert "\n" not in message and TOKEN not in message


@pytest.mark.parametrize("case", ["web page", "JSON list", "core group of the wrong shape"])
def test_the_binary_exits_2_with_one_error_line(case, tmp_path):
    with odd_server(case) as server:
        path = server.kubeconfig(tmp_path / "config", token=TOKEN)
        result = subprocess.run(
            [str(MLOPS_TUI), "--kubeconfig", str(path), "--request-timeout", "5"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})
        assert server.requests[0] == "/version"  # it did talk to the server
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert NOT_K8S in lines[0] and CASES[case][1] in lines[0]
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr + result.stdout


def test_transport_never_raises_a_decoding_error(tmp_path):
    with OddServer() as server:
        server.bodies["/list"] = b"[]"
        server.bodies["/truncated"] = b'{"kind": "PodList", "items": ['
        server.bodies["/empty-object"] = b"{}"
        loaded = kubeconfig.load(str(server.kubeconfig(tmp_path / "config")), None, 5)
        transport = Transport(loaded.api_client, 5)
        for path, says in (("/page", "not JSON"), ("/list", "a JSON list"),
                           ("/truncated", "not JSON")):
            with pytest.raises(NotKubernetes, match=says):
                transport.get(path)
        assert transport.get("/empty-object") == {}


def test_an_informer_on_an_odd_server_reports_and_keeps_trying(tmp_path):
    from mlops_tui.backends.cache import RowStore
    from mlops_tui.backends.kinds import BY_NAME, columns_for, renderer_for
    from mlops_tui.backends.kubernetes.informer import Backoff, Informer

    pods = BY_NAME[("", "pods")].info()
    with OddServer(b'{"items": {"not": "a list"}}', "application/json") as server:
        loaded = kubeconfig.load(str(server.kubeconfig(tmp_path / "config")), None, 5)
        store = RowStore(pods, "", columns_for(pods))
        informer = Informer(Transport(loaded.api_client, 5), pods, "", renderer_for(pods),
                            store, backoff=Backoff(base=0.05, cap=0.1))
        informer.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and informer.list_requests < 3:
                time.sleep(0.05)
            assert informer.list_requests >= 3  # it retries: the thread did not die
            assert NOT_K8S in store.state().error
            assert "its items are not a list" in store.state().error
            assert not store.state().synced
        finally:
            informer.stop()


@pytest.mark.apiserver
def test_switching_to_a_context_whose_server_answers_garbage(control_plane, tmp_path):
    """``:ctx odd``: a clear error, and the session stays on the context it had."""
    from mlops_tui.backends.actions.base import ActionContext, execute
    from mlops_tui.backends.actions.context import SPECS
    from mlops_tui.backends.actions.events import EventKind

    with OddServer() as server:
        config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
        odd = config_for(server.url, "odd", TOKEN)
        for section in ("clusters", "users", "contexts"):
            config[section] += odd[section]
        path = tmp_path / "config"
        path.write_text(yaml.safe_dump(config))
        backend = KubernetesBackend(BackendSettings(kubeconfig=str(path), request_timeout=5))
        asyncio.run(backend.connect())
        try:
            assert [c.name for c in backend.contexts()] == ["admin@test", "odd"]
            with pytest.raises(BackendError, match=NOT_K8S) as err:
                asyncio.run(backend.use_context("odd"))
            assert "GET /version" in str(err.value) and TOKEN not in str(err.value)
            assert backend.info().context == "admin@test"
            assert backend.resolve_kind("pods") is not None

            # what the TUI runs for ``:ctx odd``: a failed event whose message it shows
            spec = next(s for s in SPECS if s.name == "use_context")
            async def last_event():
                request = spec.request.model_validate({"name": "odd"})
                return [e async for e in execute(spec, ActionContext(backend), request)][-1]

            event = asyncio.run(last_event())
            assert event.kind is EventKind.FAILED and NOT_K8S in event.message
            assert backend.info().context == "admin@test"
        finally:
            asyncio.run(backend.close())
