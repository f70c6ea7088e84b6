"""``--script`` overhead: a script of 50 ``get`` steps vs 50 ``kubectl get`` calls.

Starts the real control plane (tests/cluster) with a few namespaces of pods, then in one run,
alternately ``--runs`` times each (median reported): the real ``mlops-tui --script`` over a
script of N ``get`` steps (JSON output), and N ``kubectl get pods -n NS -o json`` calls in a
row. Both do the same reads against the same server. Prints one JSON line; target (issue 6):
ratio <= 1.0.

    python benchmarks/bench_script.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.controlplane import ControlPlane, find_binaries, missing_reason  # noqa: E402

NAMESPACES = 5
PODS_PER_NAMESPACE = 20


def populate(cp: ControlPlane) -> None:
    from kubernetes import client

    core = client.CoreV1Api(cp.admin_client())
    cp.add_node("node-0", gpus=0)
    for n in range(NAMESPACES):
        core.create_namespace({"metadata": {"name": f"ns-{n}"}})
        for i in range(PODS_PER_NAMESPACE):
            core.create_namespaced_pod(f"ns-{n}", {
                "metadata": {"name": f"pod-{i}", "labels": {"app": f"app-{i % 4}"}},
                "spec": {"nodeName": "node-0",
                         "containers": [{"name": "main", "image": "busybox:1.36"}]}})


def script_text(steps: int) -> str:
    lines = ["steps:"]
    for i in range(steps):
        lines.append(f"  - get: {{kind: pods, namespace: ns-{i % NAMESPACES}, "
                     f"expect_count: {PODS_PER_NAMESPACE}}}")
    return "\n".join(lines) + "\n"


def time_run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=600)
    return time.perf_counter() - started


def time_kubectl(kubeconfig: Path, steps: int, env: dict[str, str]) -> float:
    kubectl = shutil.which("kubectl") or "kubectl"
    started = time.perf_counter()
    for i in range(steps):
        subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "get", "pods", "-n",
                        f"ns-{i % NAMESPACES}", "-o", "json"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bin_dir = find_binaries()
    if bin_dir is None:
        raise SystemExit(f"no control plane: {missing_reason()}")
    with tempfile.TemporaryDirectory() as home, ControlPlane(bin_dir) as cp:
        populate(cp)
        script = Path(home) / "gets.yaml"
        script.write_text(script_text(args.steps))
        env = {**os.environ, "HOME": home, "XDG_STATE_HOME": home, "XDG_CONFIG_HOME": home,
               "XDG_CACHE_HOME": home, "KUBECONFIG": str(cp.admin_kubeconfig)}
        app_argv = [str(Path(sys.executable).with_name("mlops-tui")), "--script", str(script),
                    "--output", "json"]
        time_run(app_argv, env)  # warm: bytecode, the apiserver's caches, kubectl's
        time_kubectl(cp.admin_kubeconfig, 2, env)
        app, kubectl = [], []
        for _ in range(args.runs):
            app.append(time_run(app_argv, env))
            kubectl.append(time_kubectl(cp.admin_kubeconfig, args.steps, env))
    app_s, kubectl_s = statistics.median(app), statistics.median(kubectl)
    print(json.dumps({
        "benchmark": "script_gets", "steps": args.steps, "runs": args.runs,
        "script_s": round(app_s, 3), "kubectl_calls_s": round(kubectl_s, 3),
        "ratio": round(app_s / kubectl_s, 3),
        "script_runs_s": [round(x, 3) for x in app],
        "kubectl_runs_s": [round(x, 3) for x in kubectl],
    }))


if __name__ == "__main__":
    main()
