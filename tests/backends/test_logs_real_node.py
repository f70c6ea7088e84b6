"""Pod logs through the whole real path: the Kubernetes backend → kube-apiserver → a real
kubelet → containerd's log files of busybox containers running on the test's real node
(tests/cluster/node.py). No stand-in anywhere.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator

import pytest

from mlops_tui.backends.errors import BackendError
from mlops_tui.backends.models import ResourceRef
from tests.backends.conftest import wait_for
from tests.cluster.controlplane import free_port

pytestmark = pytest.mark.apiserver

LONG = 10_000  # one line this long, cut by the backend's log_line_max
SIDECAR_SCRIPT = (
    "for i in $(seq 0 29); do echo \"I1122 line $i\"; done; "
    f"head -c {LONG} /dev/zero | tr '\\0' x; echo; exec sleep 3600"
)
MAIN_SCRIPT = "for i in $(seq 0 9); do echo \"main $i\"; done; exec sleep 3600"
TICKER_SCRIPT = "i=0; while true; do echo \"tick $i\"; i=$((i+1)); sleep 0.1; done"
# first run prints "run 1" and exits; the restarted one prints "run 2" and stays
RESTART_SCRIPT = (
    "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; "
    'echo "run $n"; if [ $n -ge 2 ]; then exec sleep 3600; fi; exit 3'
)


def busybox(name: str, script: str, image: str) -> dict:
    return {"name": name, "image": image, "command": ["sh", "-c", script]}


@pytest.fixture(scope="module")
def log_pods(control_plane, real_node) -> Iterator[str]:
    """One namespace with three pods on the real node, all started at once:
    ``server`` (containers main + sidecar, fixed output), ``ticker`` (a line every
    0.1 s) and ``restarter`` (restarted once, so it has a previous instance)."""
    ns = control_plane.create_namespace(f"logs-{secrets.token_hex(3)}")
    core = control_plane.core_v1()
    image = real_node.images["busybox"]
    specs = {
        "server": {"containers": [busybox("main", MAIN_SCRIPT, image),
                                  busybox("sidecar", SIDECAR_SCRIPT, image)]},
        "ticker": {"containers": [busybox("main", TICKER_SCRIPT, image)]},
        "restarter": {
            "containers": [{**busybox("main", RESTART_SCRIPT, image),
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }
    for name, spec in specs.items():
        core.create_namespaced_pod(ns, {"metadata": {"name": name},
                                        "spec": real_node.place(spec)})

    def all_running() -> bool:
        pods = core.list_namespaced_pod(ns).items
        return len(pods) == 3 and all(
            all(s.state.running for s in p.status.container_statuses or [False])
            for p in pods)

    def restarted() -> bool:
        pod = core.read_namespaced_pod("restarter", ns)
        status = (pod.status.container_statuses or [None])[0]
        return bool(status and status.restart_count >= 1 and status.state.running)

    try:
        wait_for(all_running, 90, "log pods running")
        wait_for(restarted, 90, "the restarter restarted once")  # kubelet backoff ~10 s
        yield ns
    finally:
        control_plane.delete_namespace(ns)


async def read(backend, ref, **options) -> list[str]:
    return [line async for line in backend.logs(ref, **options)]


def test_containers_and_the_chosen_containers_log(make_backend, log_pods):
    backend = make_backend(namespace=log_pods, log_line_max=100)
    ref = ResourceRef(backend.resolve_kind("po"), "server", log_pods)
    assert asyncio.run(backend.containers(ref)) == ["main", "sidecar"]

    # no container named: the first one, as kubectl picks
    assert asyncio.run(read(backend, ref, follow=False)) == [f"main {i}" for i in range(10)]

    got = asyncio.run(read(backend, ref, container="sidecar", follow=False, tail_lines=5))
    assert got[:4] == [f"I1122 line {i}" for i in range(26, 30)]
    assert got[4] == "x" * 100 + f" …[{LONG - 100} bytes cut]"  # the line-length cap
    assert len(got) == 5

    everything = asyncio.run(read(backend, ref, container="sidecar", follow=False,
                                  tail_lines=None))
    assert everything[:30] == [f"I1122 line {i}" for i in range(30)] and len(everything) == 31


def test_previous_is_the_instance_before_the_restart(make_backend, log_pods):
    backend = make_backend(namespace=log_pods)
    ref = ResourceRef(backend.resolve_kind("po"), "restarter", log_pods)
    assert asyncio.run(read(backend, ref, follow=False, previous=True)) == ["run 1"]
    assert asyncio.run(read(backend, ref, follow=False)) == ["run 2"]


def test_follow_streams_new_lines_until_the_reader_leaves(make_backend, log_pods):
    backend = make_backend(namespace=log_pods)
    ref = ResourceRef(backend.resolve_kind("po"), "ticker", log_pods)

    async def follow_then_stop() -> list[str]:
        out = []
        async for line in backend.logs(ref, follow=True, tail_lines=1):
            out.append(line)
            if len(out) == 12:
                break  # the user leaves the log view
        return out

    followed = asyncio.run(follow_then_stop())
    numbers = [int(line.removeprefix("tick ")) for line in followed]
    # one line of history, then lines the container printed while we were reading
    assert numbers == list(range(numbers[0], numbers[0] + 12))
    # leaving the view ends the stream's reader thread and closes its connection
    wait_for(lambda: not any(t.name == "log-stream" for t in threading.enumerate()),
             timeout=10, what="log stream thread gone")


def test_a_node_whose_kubelet_is_unreachable_gives_a_clean_error(
    make_backend, control_plane, fresh_namespace
):
    """A node whose kubelet port refuses connections (a fake node on 127.0.0.1)."""
    name = f"no-kubelet-{secrets.token_hex(2)}"
    control_plane.add_node(name, internal_ip="127.0.0.1")
    try:
        control_plane.core_v1().patch_node_status(name, {"status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": free_port()}}}})
        control_plane.core_v1().create_namespaced_pod(fresh_namespace, {
            "metadata": {"name": "orphan"},
            "spec": {"nodeName": name, "containers": [{"name": "main", "image": "x:1"}]}})
        backend = make_backend(namespace=fresh_namespace)
        ref = ResourceRef(backend.resolve_kind("po"), "orphan", fresh_namespace)
        with pytest.raises(BackendError) as err:
            asyncio.run(read(backend, ref, follow=False))
        assert "Traceback" not in str(err.value) and str(err.value)
    finally:
        control_plane.remove_node(name)
