"""First table vs kubectl, filter latency, memory and steady-state requests at N pods.

Starts the real control plane (tests/cluster), creates ``--nodes`` fake nodes and ``--pods``
pods bound to them, then, in one run: times ``kubectl get pods -A`` (its default table) and
the real app (a child process, headless) from process start to a fully populated pods table.
Prints one JSON line. Targets (issue 2): first table <= 1.0x kubectl, peak RSS <= 400 MB at
25,000 pods, filter p95 <= 50 ms, 0 list requests in steady state.

    python benchmarks/bench_pods.py                # 10,000 pods
    python benchmarks/bench_pods.py --pods 25000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.controlplane import ControlPlane, find_binaries, missing_reason  # noqa: E402


def create_pods(cp: ControlPlane, count: int, nodes: int, namespaces: int) -> None:
    from kubernetes import client

    api = cp.admin_client()
    core = client.CoreV1Api(api)
    for i in range(namespaces):
        core.create_namespace({"metadata": {"name": f"ns-{i}"}})

    def make(i: int) -> None:
        gpu = i % 10 == 0
        container = {"name": "main", "image": "nvcr.io/nvidia/tritonserver:24.08-py3"}
        if gpu:
            container["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        body = {"metadata": {"name": f"bench-{i}", "labels": {"app": f"bench-{i % 50}"}},
                "spec": {"nodeName": f"node-{i % nodes}", "containers": [container]}}
        for attempt in range(5):
            try:
                core.create_namespaced_pod(f"ns-{i % namespaces}", body)
                return
            except client.ApiException as exc:
                if exc.status == 409:
                    return
                time.sleep(0.2 * (attempt + 1))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(make, range(count)))


def run_kubectl_rss(kubeconfig: Path) -> tuple[float, float, int]:
    kubectl = shutil.which("kubectl") or "kubectl"
    started = time.perf_counter()
    pid = os.posix_spawn(kubectl, [kubectl, "--kubeconfig", str(kubeconfig), "get", "pods",
                                   "-A"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"kubectl failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024, 0


def run_app(kubeconfig: Path, pods: int, steady: float) -> dict:
    started = time.time()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "_pods_probe.py"), "--kubeconfig",
         str(kubeconfig), "--pods", str(pods), "--steady", str(steady)],
        capture_output=True, text=True, timeout=steady + 900)
    if proc.returncode != 0:
        raise SystemExit(f"probe failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["first_table_s"] = round(result.pop("populated_at") - started, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--steady", type=float, default=60.0,
                        help="seconds of steady state to count requests in")
    args = parser.parse_args()
    bin_dir = find_binaries()
    if bin_dir is None:
        raise SystemExit(f"no control plane: {missing_reason()}")
    with ControlPlane(bin_dir) as cp:
        for i in range(args.nodes):
            cp.add_node(f"node-{i}", gpus=8 if i % 5 == 0 else 0)
        t = time.perf_counter()
        create_pods(cp, args.pods, args.nodes, args.namespaces)
        create_s = time.perf_counter() - t
        # warm the apiserver's cache path once, as a user's cluster would be warm
        run_kubectl_rss(cp.admin_kubeconfig)
        kubectl_s, kubectl_rss, _ = run_kubectl_rss(cp.admin_kubeconfig)
        app = run_app(cp.admin_kubeconfig, args.pods, args.steady)
    print(json.dumps({
        "benchmark": "pods_table", "pods": args.pods, "nodes": args.nodes,
        "create_s": round(create_s, 1),
        "kubectl_get_pods_s": round(kubectl_s, 3), "kubectl_peak_rss_mb": round(kubectl_rss, 1),
        "app_first_table_s": app["first_table_s"],
        "ratio_app_over_kubectl": round(app["first_table_s"] / kubectl_s, 3),
        "app_rows": app["rows"],
        "filter_ms_p50": app["filter_ms_p50"], "filter_ms_p95": app["filter_ms_p95"],
        "filter_keystrokes": app["filter_keystrokes"],
        "app_peak_rss_mb": app["peak_rss_mb"],
        "steady_s": app["steady_s"],
        "steady_list_requests": app["steady_list_requests"],
        "steady_watch_requests": app["steady_watch_requests"],
    }))


if __name__ == "__main__":
    main()
