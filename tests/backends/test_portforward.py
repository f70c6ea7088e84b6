"""Port-forward through the real kube-apiserver (and, with the real node, a real kubelet).

The checks before listening (unknown pod, a pod that is not running, a user without the
right) and the refusal of a stream by an unreachable kubelet run against the control plane
alone. The byte pumping runs against a real pod on the ``real_node`` (kubelet + containerd)
that echoes every connection, and against a real Triton pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import socket
import time
from pathlib import Path

import pytest
import yaml

from mlops_tui.backends.errors import ConfigError, ConnectionFailed, Forbidden, Invalid, NotFound
from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.kubernetes.dialer import portforward_url, tls_context
from mlops_tui.backends.kubernetes.forward_checks import check_running
from mlops_tui.backends.kubernetes.portforward import LINGER_S, PodPortForward
from mlops_tui.backends.models import BackendSettings, ResourceRef
from mlops_tui.backends.protocols import PortForward, PortForwarder

ECHO_PORT = 8080


# -- pure pieces ----------------------------------------------------------------------------
def test_url_keeps_the_server_path_and_quotes_names():
    url = portforward_url("https://k8s.example:6443/k8s/clusters/c-1/", "ns", "a b", 8001)
    assert str(url) == ("wss://k8s.example:6443/k8s/clusters/c-1/api/v1/namespaces/ns/pods/"
                        "a%20b/portforward?ports=8001")
    assert str(portforward_url("http://127.0.0.1:8080", "n", "p", 1)).startswith("ws://")


def test_not_running_pods_are_named_with_their_phase():
    pending = {"metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Pending"}}
    with pytest.raises(ConnectionFailed, match=r"pod n/p: the pod is Pending"):
        check_running(pending)
    with pytest.raises(ConnectionFailed, match="is Pending"):  # no status yet
        check_running({"metadata": {"name": "p", "namespace": "n"}})
    check_running({"metadata": {}, "status": {"phase": "Running"}})


def test_tls_context_follows_the_configuration(tmp_path):
    from kubernetes.client import Configuration

    cfg = Configuration()
    cfg.verify_ssl = False
    assert tls_context(cfg).check_hostname is False
    cfg.verify_ssl, cfg.cert_file = True, str(tmp_path / "missing.crt")
    with pytest.raises(ConfigError, match="cannot load the TLS files"):
        tls_context(cfg)


class _ScriptedDialer:
    """Dials a local aiohttp WebSocket server instead of the API server."""

    def __init__(self, url: str) -> None:
        import aiohttp

        self.url = url
        self.session = aiohttp.ClientSession()

    async def dial(self, namespace: str, pod: str, port: int):
        return await self.session.ws_connect(self.url)

    async def close(self) -> None:
        await self.session.close()


@pytest.mark.parametrize(("frames", "expect", "error"), [
    # the port prefix split over two messages, and a data message before the error one
    ([b"\x00\x50", b"\x00\x00he", b"\x01\x50\x00", b"\x00llo"], b"hello", ""),
    # text on the error channel after some data: a reset, and the text kept
    ([b"\x00\x50\x00", b"\x01\x50\x00", b"\x00part", b"\x01boom: refused\n"], b"part",
     "boom: refused"),
])
async def test_framing_edge_cases_a_server_does_not_send(frames, expect, error):
    """A scripted WebSocket server (no API server sends its port prefix in pieces; the error
    text case runs for real above): what reaches the client, and how the stream ends."""
    from aiohttp import web

    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in frames:
            await ws.send_bytes(frame)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    forward = PodPortForward(_ScriptedDialer(f"http://127.0.0.1:{port}/"), "ns", "pod", 80)
    await forward.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
        got = bytearray()
        try:
            async with asyncio.timeout(10):
                while data := await reader.read(100):
                    got += data
            reset = False
        except ConnectionResetError:
            reset = True
        writer.close()
        assert reset == bool(error)
        # data just before a reset may be dropped by the client's kernel
        assert bytes(got) == expect if not error else expect.startswith(bytes(got))
        assert list(forward.errors) == ([error] if error else [])
    finally:
        await forward.close()
        await runner.cleanup()


# -- helpers --------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def connected(kubeconfig: Path | str, **settings):
    backend = KubernetesBackend(BackendSettings(kubeconfig=str(kubeconfig), **settings))
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


def pod_ref(backend: KubernetesBackend, namespace: str, name: str) -> ResourceRef:
    return ResourceRef(backend.resolve_kind("po"), name, namespace)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def other_tasks() -> set[asyncio.Task]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


# -- against the control plane alone -----------------------------------------------------------
apiserver = pytest.mark.apiserver


@apiserver
async def test_unknown_pod_is_not_found(control_plane, fresh_namespace):
    async with connected(control_plane.admin_kubeconfig) as backend:
        assert isinstance(backend, PortForwarder)
        with pytest.raises(NotFound, match="nope"):
            await backend.port_forward(pod_ref(backend, fresh_namespace, "nope"), 80)
        assert backend.forwards() == []


@apiserver
async def test_pod_on_a_fake_node_is_pending(control_plane, fresh_namespace):
    node = f"pf-{secrets.token_hex(3)}"
    control_plane.add_node(node)
    try:
        control_plane.core_v1().create_namespaced_pod(fresh_namespace, {
            "metadata": {"name": "server"},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "x"}]}})
        async with connected(control_plane.admin_kubeconfig) as backend:
            with pytest.raises(ConnectionFailed) as err:
                await backend.port_forward(pod_ref(backend, fresh_namespace, "server"), 80)
            assert str(err.value) == (f"cannot port-forward to pod {fresh_namespace}/server: "
                                      "the pod is Pending")
            with pytest.raises(Invalid, match="port 0 is not a TCP port"):
                await backend.port_forward(pod_ref(backend, fresh_namespace, "server"), 0)
    finally:
        control_plane.remove_node(node)


@apiserver
async def test_forbidden_user(control_plane):
    """``limited`` may get pods in team-a but not port-forward to them."""
    core = control_plane.core_v1()
    name = f"pf-{secrets.token_hex(3)}"
    core.create_namespaced_pod("team-a", {"metadata": {"name": name}, "spec": {
        "containers": [{"name": "main", "image": "x"}]}})
    try:
        async with connected(control_plane.limited_kubeconfig) as backend:
            with pytest.raises(Forbidden, match="may not port-forward to pods in namespace "
                                                "'team-a'"):
                await backend.port_forward(pod_ref(backend, "team-a", name), 80)
            with pytest.raises(Forbidden):  # may not even read pods there
                await backend.port_forward(pod_ref(backend, "default", name), 80)
    finally:
        core.delete_namespaced_pod(name, "team-a", grace_period_seconds=0)


@apiserver
async def test_unreachable_kubelet_resets_each_connection(control_plane, fresh_namespace):
    """A pod marked Running on a node whose kubelet address (127.0.0.1, a closed port)
    refuses: the forward listens, each connection is reset, and the reason is kept. A
    read-only session may open it."""
    node = f"pf-{secrets.token_hex(3)}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    control_plane.add_node(node, internal_ip="127.0.0.1")
    core = control_plane.core_v1()
    try:
        core.patch_node_status(node, {"status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": closed_port}}}})
        core.create_namespaced_pod(fresh_namespace, {
            "metadata": {"name": "server"},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "x"}]}})
        core.patch_namespaced_pod_status("server", fresh_namespace,
                                         {"status": {"phase": "Running"}})
        async with connected(control_plane.admin_kubeconfig, readonly=True) as backend:
            tasks = other_tasks()
            forward = await backend.port_forward(pod_ref(backend, fresh_namespace, "server"),
                                                 ECHO_PORT)
            fds = open_fds()  # the client's pool is warm; the forward's listener is open
            assert isinstance(forward, PortForward)
            assert forward.description == f"{fresh_namespace}/server:8080 via port-forward"
            assert backend.forwards() == [forward]
            reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
            writer.write(b"hello")
            with pytest.raises(ConnectionResetError):
                async with asyncio.timeout(30):
                    await reader.read()
            writer.close()
            assert "the pod's node may be unreachable" in forward.errors[-1]
            assert forward.active == 0 and forward.opened == 1
            await forward.close()
            assert forward.closed and backend.forwards() == []
            assert await refused(forward.local_port)
            async with asyncio.timeout(10):  # the listener too; TLS closes take a moment
                while open_fds() >= fds or other_tasks() - tasks:
                    await asyncio.sleep(0.05)
    finally:
        control_plane.remove_node(node)


# -- through a real kubelet -------------------------------------------------------------------
def run_on_node(node, name: str) -> dict:
    image, command = echo_command(node)
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": node.place({
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": image, "command": command,
                        "ports": [{"containerPort": ECHO_PORT}]}]})}


#: an echo server for the pod: busybox ``nc -ll -e cat`` resets connections when many
#: arrive at once (seen with 16, without any forward), so Python's asyncio serves it
ECHO_PY = """
import asyncio

async def echo(reader, writer):
    try:
        while data := await reader.read(262144):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(echo, "0.0.0.0", PORT, backlog=128)
    await server.serve_forever()

asyncio.run(main())
""".replace("PORT", str(ECHO_PORT))


def echo_command(node) -> tuple[str, list[str]]:
    """(image, command) of the echo server: Python in the Triton image when the node holds
    it, else busybox ``nc`` (fine one connection at a time)."""
    if "triton" in node.images:
        return node.images["triton"], ["python3", "-c", ECHO_PY]
    return node.images["busybox"], ["nc", "-ll", "-p", str(ECHO_PORT), "-e", "cat"]


@pytest.fixture
def echo_pod(real_node, control_plane, fresh_namespace) -> str:
    """A pod on the real node echoing every connection on 8080; its name."""
    core = control_plane.core_v1()
    core.create_namespaced_pod(fresh_namespace, run_on_node(real_node, "echo"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        phase = core.read_namespaced_pod("echo", fresh_namespace).status.phase
        if phase == "Running":
            return "echo"
        time.sleep(0.2)
    raise AssertionError(f"echo pod not Running after 60 s (last phase {phase})")


async def echo(port: int, payload: bytes, chunk: int = 256 * 1024) -> bytes:
    """Send ``payload`` while reading the echo; then close (no half-close: see the
    module doc of portforward)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        for i in range(0, len(payload), chunk):
            writer.write(payload[i:i + chunk])
            await writer.drain()

    sender = asyncio.create_task(send())
    got = bytearray()
    try:
        async with asyncio.timeout(120):
            while len(got) < len(payload):
                data = await reader.read(1 << 20)
                if not data:
                    break
                got += data
        await sender
    finally:
        sender.cancel()
        writer.close()
    return bytes(got)


async def until_echoes(forward: PodPortForward) -> None:
    """nc may not listen yet when the pod is Running: retry a round trip (bounded)."""
    for _ in range(50):
        with contextlib.suppress(OSError):
            if await echo(forward.local_port, b"ping\n") == b"ping\n":
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no echo through {forward}: {list(forward.errors)}")


@apiserver
async def test_bytes_round_trip(control_plane, fresh_namespace, echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        assert await echo(forward.local_port, b"hello\x00\x01\xff world\n") == (
            b"hello\x00\x01\xff world\n")


@apiserver
async def test_a_deployment_forwards_to_its_pod(control_plane, fresh_namespace, real_node):
    """As ``kubectl port-forward deploy/NAME``: the pod its selector picks, running first."""
    from kubernetes import client as k8s

    template = run_on_node(real_node, "web")
    k8s.AppsV1Api(control_plane.admin_client()).create_namespaced_deployment(fresh_namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": template}})
    async with connected(control_plane.admin_kubeconfig) as backend:
        ref = ResourceRef(backend.resolve_kind("deploy"), "web", fresh_namespace)
        forward = None
        async with asyncio.timeout(90):
            while forward is None:
                with contextlib.suppress(NotFound, ConnectionFailed):  # no pod / not running
                    forward = await backend.port_forward(ref, ECHO_PORT)
                await asyncio.sleep(0.3)
        assert forward.pod.startswith("web-")
        await until_echoes(forward)


@apiserver
async def test_sixteen_parallel_connections(control_plane, fresh_namespace, echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        payloads = [secrets.token_bytes(256 * 1024 + i) for i in range(16)]
        got = await asyncio.gather(*(echo(forward.local_port, p) for p in payloads))
        assert [hashlib.sha256(g).hexdigest() for g in got] == [
            hashlib.sha256(p).hexdigest() for p in payloads]


@apiserver
async def test_ten_megabytes_intact(control_plane, fresh_namespace, echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        payload = secrets.token_bytes(10 * 1024 * 1024)
        got = await echo(forward.local_port, payload)
        assert len(got) == len(payload)
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        assert forward.bytes_out >= len(payload) and forward.bytes_in >= len(payload)


@apiserver
async def test_nothing_listening_is_an_error_on_that_connection(control_plane, fresh_namespace,
                                                                echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod), 9)
        reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
        writer.write(b"x")
        with contextlib.suppress(ConnectionResetError):
            async with asyncio.timeout(30):
                assert await reader.read() == b""
        writer.close()
        async with asyncio.timeout(10):
            while not forward.errors:
                await asyncio.sleep(0.05)
        assert "9" in forward.errors[-1] and "\n" not in forward.errors[-1]


@apiserver
async def test_pod_deleted_while_forwarding(control_plane, fresh_namespace, echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        reader, writer = await asyncio.open_connection("127.0.0.1", forward.local_port)
        writer.write(b"before\n")
        async with asyncio.timeout(30):
            assert await reader.readexactly(7) == b"before\n"
        await asyncio.to_thread(control_plane.core_v1().delete_namespaced_pod, echo_pod,
                                fresh_namespace, grace_period_seconds=1)
        with contextlib.suppress(ConnectionResetError):
            async with asyncio.timeout(60):  # the stream ends: EOF (or a reset), no hang
                while await reader.read(65536):
                    pass
        writer.close()
        async with asyncio.timeout(10):
            while forward.active:
                await asyncio.sleep(0.05)


@apiserver
async def test_close_leaves_nothing_behind(control_plane, fresh_namespace, echo_pod):
    async with connected(control_plane.admin_kubeconfig) as backend:
        tasks = other_tasks()
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        async with asyncio.timeout(3 * LINGER_S + 5):  # the probes' streams linger, then end
            while forward.active:
                await asyncio.sleep(0.05)
        fds = open_fds()  # the client's pool is warm; the forward's listener is open
        streams = [await asyncio.open_connection("127.0.0.1", forward.local_port)
                   for _ in range(4)]
        for reader, writer in streams:
            writer.write(b"x\n")
            async with asyncio.timeout(30):
                assert await reader.readexactly(2) == b"x\n"
        assert forward.active == 4
        await forward.close()
        assert backend.forwards() == [] and forward.active == 0
        for reader, writer in streams:  # every client sees its connection end
            with contextlib.suppress(ConnectionResetError):
                async with asyncio.timeout(10):
                    assert await reader.read() == b""
            writer.close()
        assert await refused(forward.local_port)
        async with asyncio.timeout(10):  # TLS streams close after their close_notify
            while open_fds() >= fds or other_tasks() - tasks:
                await asyncio.sleep(0.05)


@apiserver
@pytest.mark.parametrize("auth", ["token", "exec-plugin"])
async def test_bearer_tokens_reach_the_stream(control_plane, fresh_namespace, echo_pod,
                                              tmp_path, auth, caplog):
    config = tmp_path / "kubeconfig"
    control_plane.write_kubeconfig(config, "admin-token", token=control_plane.admin_token)
    if auth == "exec-plugin":
        plugin = tmp_path / "plugin.sh"
        plugin.write_text("#!/bin/sh\nprintf '%s' '" + (
            '{"apiVersion": "client.authentication.k8s.io/v1beta1", '
            '"kind": "ExecCredential", "status": {"token": "'
            + control_plane.admin_token + '"}}') + "'\n")
        plugin.chmod(0o700)
        data = yaml.safe_load(config.read_text())
        data["users"][0]["user"] = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}
        config.write_text(yaml.safe_dump(data))
    caplog.set_level("DEBUG")
    async with connected(config) as backend:
        forward = await backend.port_forward(pod_ref(backend, fresh_namespace, echo_pod),
                                             ECHO_PORT)
        await until_echoes(forward)
        assert repr(forward).count(control_plane.admin_token) == 0
    assert control_plane.admin_token not in caplog.text


# -- Triton through a forward, as the deploy screen and the load test reach it ----------------
@pytest.fixture
def triton_pod(real_node, control_plane, fresh_namespace, tmp_path) -> str:
    """A Triton pod on the real node serving a toy model from a hostPath repository; Ready."""
    from tests.servers.triton import ModelSpec, write_model_repository

    node = real_node
    if "triton" not in node.images:
        pytest.skip("the real node holds no Triton image (tests/cluster/build-node.sh)")
    repo = write_model_repository(tmp_path / "models", [ModelSpec("resnet50")])
    core = control_plane.core_v1()
    core.create_namespaced_pod(fresh_namespace, {"metadata": {"name": "triton"}, "spec": node.place({
        "terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "models", "hostPath": {"path": str(repo), "type": "Directory"}}],
        "containers": [{
            "name": "triton", "image": node.images["triton"],
            "command": ["tritonserver", "--model-repository=/models",
                        "--backend-config=python,shm-region-prefix-name=pf"],
            "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
            "readinessProbe": {"httpGet": {"path": "/v2/models/resnet50/ready", "port": 8000},
                               "periodSeconds": 1}}]})})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = core.read_namespaced_pod("triton", fresh_namespace).status
        if any(c.type == "Ready" and c.status == "True" for c in status.conditions or ()):
            return "triton"
        time.sleep(0.5)
    raise AssertionError(f"Triton pod not Ready after 120 s: {status.phase}")


@apiserver
async def test_triton_over_http_and_grpc(control_plane, fresh_namespace, triton_pod):
    """16 HTTP/1.1 keep-alive connections at once, then gRPC's one HTTP/2 connection."""
    import numpy as np
    import tritonclient.grpc.aio as grpcclient
    import tritonclient.http.aio as httpclient

    batch = np.arange(8, dtype=np.float32).reshape(2, 4)
    async with connected(control_plane.admin_kubeconfig) as backend:
        ref = pod_ref(backend, fresh_namespace, triton_pod)
        http_fwd, grpc_fwd = [await backend.port_forward(ref, p) for p in (8000, 8001)]

        http = httpclient.InferenceServerClient(f"127.0.0.1:{http_fwd.local_port}",
                                                conn_limit=16)
        try:
            assert await http.is_model_ready("resnet50")

            async def infer_http() -> np.ndarray:
                tensor = httpclient.InferInput("INPUT__0", [2, 4], "FP32")
                tensor.set_data_from_numpy(batch)
                return (await http.infer("resnet50", [tensor])).as_numpy("OUTPUT__0")

            results = await asyncio.gather(*(infer_http() for _ in range(64)))
        finally:
            await http.close()
        assert all(np.array_equal(r, batch) for r in results)
        assert http_fwd.opened >= 16

        grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_fwd.local_port}")
        try:
            async def infer_grpc() -> np.ndarray:
                tensor = grpcclient.InferInput("INPUT__0", [2, 4], "FP32")
                tensor.set_data_from_numpy(batch)
                return (await grpc.infer("resnet50", [tensor])).as_numpy("OUTPUT__0")

            results = await asyncio.gather(*(infer_grpc() for _ in range(64)))
        finally:
            await grpc.close()
        assert all(np.array_equal(r, batch) for r in results)
        assert grpc_fwd.opened == 1
        assert not http_fwd.errors and not grpc_fwd.errors
