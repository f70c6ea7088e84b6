"""Port-forward speed: the Kubernetes backend's forward against ``kubectl port-forward``.

Starts the real control plane and the real node (tests/cluster), runs a pod that echoes
every connection (the port-forward tests' asyncio server), then measures through both
forwards in turn: a new connection's first echoed byte (sequential, p50/p95), one
connection echoing ``--megabytes`` (payload MB/s, sent and received at once) and 16
connections echoing 4 MB each at once. Prints one JSON line. kubectl (SPDY) is the
reference; it is skipped when not on PATH.

    python benchmarks/bench_portforward.py
    python benchmarks/bench_portforward.py --megabytes 128 --connects 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.backends.test_portforward import echo_command  # noqa: E402
from tests.cluster.controlplane import ControlPlane, find_binaries  # noqa: E402
from tests.cluster.node import RealNode  # noqa: E402

NAMESPACE, POD, PORT = "bench-pf", "echo", 8080


async def echo(port: int, payload: bytes, chunk: int = 256 * 1024) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        for i in range(0, len(payload), chunk):
            writer.write(payload[i:i + chunk])
            await writer.drain()

    sender = asyncio.create_task(send())
    got = 0
    try:
        async with asyncio.timeout(120):
            while got < len(payload):
                data = await reader.read(1 << 20)
                if not data:
                    break
                got += len(data)
            await sender
    finally:
        sender.cancel()
        writer.close()
    return got


async def measure(port: int, megabytes: int, connects: int) -> dict[str, float | str]:
    for _ in range(100):  # nc may not listen yet
        try:
            if await echo(port, b"x") == 1:
                break
        except OSError:
            pass
        await asyncio.sleep(0.2)
    firsts = []
    for _ in range(connects):
        t0 = time.perf_counter()
        assert await echo(port, b"x") == 1
        firsts.append((time.perf_counter() - t0) * 1000)
    payload = secrets.token_bytes(megabytes << 20)
    t0 = time.perf_counter()
    assert await echo(port, payload) == len(payload)
    one = time.perf_counter() - t0
    parts = [secrets.token_bytes(4 << 20) for _ in range(16)]
    t0 = time.perf_counter()
    try:
        got = await asyncio.gather(*(echo(port, p) for p in parts))
        sixteen: float | str = round(64 / (time.perf_counter() - t0), 1)
        assert got == [len(p) for p in parts]
    except TimeoutError:  # kubectl 1.32's SPDY forward was seen to stall here
        sixteen = "stalled for 120 s"
    quantiles = statistics.quantiles(firsts, n=20)
    return {"first_byte_ms_p50": round(statistics.median(firsts), 1),
            "first_byte_ms_p95": round(quantiles[18], 1),
            "one_connection_mb_s": round(megabytes / one, 1),
            "sixteen_connections_mb_s": sixteen}


async def ours(cp: ControlPlane, megabytes: int, connects: int) -> dict[str, float]:
    from mlops_tui.backends.kubernetes import KubernetesBackend
    from mlops_tui.backends.models import BackendSettings, ResourceRef

    backend = KubernetesBackend(BackendSettings(kubeconfig=str(cp.admin_kubeconfig)))
    await backend.connect()
    try:
        t0 = time.perf_counter()
        forward = await backend.port_forward(
            ResourceRef(backend.resolve_kind("po"), POD, NAMESPACE), PORT)
        opened = (time.perf_counter() - t0) * 1000
        result = await measure(forward.local_port, megabytes, connects)
        return {"open_ms": round(opened, 1), **result, "errors": len(forward.errors)}
    finally:
        await backend.close()


async def kubectl(cp: ControlPlane, megabytes: int, connects: int) -> dict[str, float] | None:
    binary = shutil.which("kubectl")
    if binary is None:
        return None
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        binary, "--kubeconfig", str(cp.admin_kubeconfig), "-n", NAMESPACE, "port-forward",
        f"pod/{POD}", f":{PORT}", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        opened = (time.perf_counter() - t0) * 1000
        local = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        return {"open_ms": round(opened, 1), **await measure(local, megabytes, connects)}
    finally:
        proc.terminate()
        await proc.wait()


def start_echo_pod(cp: ControlPlane, node: RealNode) -> None:
    core = cp.core_v1()
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    image, command = echo_command(node)  # the tests' echo server, on port 8080
    core.create_namespaced_pod(NAMESPACE, {"metadata": {"name": POD}, "spec": node.place({
        "terminationGracePeriodSeconds": 1, "nodeName": node.name,  # no scheduler here
        "containers": [{"name": "main", "image": image, "command": command}]})})
    deadline = time.monotonic() + 120
    while core.read_namespaced_pod(POD, NAMESPACE).status.phase != "Running":
        if time.monotonic() > deadline:
            raise SystemExit("the echo pod did not run within 120 s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--connects", type=int, default=30)
    args = parser.parse_args()
    bin_dir = find_binaries()
    if bin_dir is None:
        raise SystemExit("no control-plane binaries (./install.sh --dev)")
    with ControlPlane(bin_dir, extra_apiserver_args=[
            "--kubelet-preferred-address-types=InternalIP"]) as cp, RealNode(cp) as node:
        start_echo_pod(cp, node)
        result = {"ours": asyncio.run(ours(cp, args.megabytes, args.connects)),
                  "kubectl": asyncio.run(kubectl(cp, args.megabytes, args.connects)),
                  "megabytes": args.megabytes, "connects": args.connects}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
