"""Start-up and footprint of the real test node (tests/cluster/node.py).

Starts a control plane and a real node, then prints one JSON line: when containerd,
the images and the kubelet were up and the node Ready (seconds from ``start()``), how
long a busybox pod took from create to Running, the resident memory of kubelet,
containerd and the pod's processes (MiB), and how long ``stop()`` took.

    .venv/bin/python benchmarks/bench_real_node.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster import node_host  # noqa: E402
from tests.cluster.controlplane import ControlPlane  # noqa: E402
from tests.cluster.node import RealNode  # noqa: E402
from tests.cluster.node_runtime import shim_pids  # noqa: E402

IDLE_S = 20


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main() -> None:
    result: dict[str, object] = {}
    with ControlPlane() as cp:
        cp.start_controllers()
        node = RealNode(cp)
        node.start()
        try:
            node.images.wait()
            result["start_s"] = {k: round(v, 1) for k, v in node.timings.items()}
            core = cp.core_v1()
            ns = cp.create_namespace("bench")
            spec = node.place({"containers": [
                {"name": "c", "image": node.images["busybox"], "command": ["sleep", "600"]}]})
            t0 = time.monotonic()
            core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": spec})
            while core.read_namespaced_pod("p", ns).status.phase != "Running":
                if time.monotonic() - t0 > 60:
                    raise SystemExit("pod not Running after 60 s")
                time.sleep(0.05)
            result["pod_running_s"] = round(time.monotonic() - t0, 2)
            time.sleep(2)
            assert node.slot is not None
            pods = node_host.cgroup_pids(node.slot.cgroup_root) - set(
                shim_pids(node.containerd_socket))
            ticks = os.sysconf("SC_CLK_TCK")
            before = {n: cpu_ticks(p) for n, p in node.pids().items()}
            time.sleep(IDLE_S)
            result[f"idle_cpu_percent_over_{IDLE_S}s"] = {
                n: round(100 * (cpu_ticks(p) - before[n]) / ticks / IDLE_S, 1)
                for n, p in node.pids().items()}
            result["rss_mib"] = {
                **{name: round(rss_mib(pid), 1) for name, pid in node.pids().items()},
                "shims": round(sum(rss_mib(p) for p in shim_pids(node.containerd_socket)), 1),
                "pod_processes": round(sum(rss_mib(p) for p in pods), 1),
            }
        finally:
            t0 = time.monotonic()
            node.stop()
            result["stop_s"] = round(time.monotonic() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
