"""Record what the deploy wizard's actions answer, from the real servers, into
tests/fixtures/deploy_screen/ (for tests/tui/test_deploy_render.py).

Run it after the actions change what they send (about two minutes: it starts a control
plane and a tritonserver of its own on free loopback ports and stops them by PID)::

    .venv/bin/python -m tests.tui.record_deploy_data

Recorded: the ok data of ``deploy`` with ``dry_run: true`` (manifests and diff from the
server's dry run), the failed data of ``deploy`` asking more GPUs than any node has (the
scheduler's verdict, terminal after the verdict's grace of about a minute), and the ok data
of ``infer`` and ``loadtest`` against a bare tritonserver.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.cluster.controlplane import ControlPlane, find_binaries
from tests.servers.triton import DEFAULT_MODELS, TritonServer, write_model_repository

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy_screen"
NAMESPACE = "wizard"
IMAGE = "localhost/mlops-tui-test/tritonserver:2.51"


async def terminal(backend: Any, action: str, workdir: Path | None = None, **args: Any):
    from mlops_tui.backends.actions import ACTIONS, ActionContext, execute

    spec = ACTIONS[action]
    ctx = ActionContext(backend, namespace=NAMESPACE, workdir=workdir)
    last = None
    async for event in execute(spec, ctx, spec.request.model_validate(args)):
        last = event
    assert last is not None and last.terminal
    return last


def save(name: str, data: Any) -> None:
    path = FIXTURES / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


async def record_cluster(cp: ControlPlane, workdir: Path) -> None:
    from mlops_tui.backends.kubernetes import KubernetesBackend
    from mlops_tui.backends.models import BackendSettings

    backend = KubernetesBackend(BackendSettings(kubeconfig=str(cp.admin_kubeconfig)))
    await backend.connect()
    try:
        args = {"name": "resnet", "model_repository": "model_repository", "image": IMAGE,
                "image_pull_policy": "Never", "replicas": 2, "gpus": 0}
        dry = await terminal(backend, "deploy", workdir, **args, dry_run=True)
        assert dry.kind == "ok", dry
        save("dry_run", dry.data)
        failed = await terminal(backend, "deploy", workdir, **{**args, "gpus": 16},
                                timeout="150s")
        assert failed.kind == "failed" and failed.data, failed
        save("verdict_unschedulable", failed.data)
    finally:
        await backend.close()


async def record_triton(server: TritonServer, workdir: Path) -> None:
    from mlops_tui.backends.demo import DemoBackend

    backend = DemoBackend()
    infer = await terminal(backend, "infer", url=server.grpc_address, model="resnet50",
                           protocol="grpc", inputs="zeros")
    assert infer.kind == "ok", infer
    save("infer", infer.data)
    load = await terminal(backend, "loadtest", workdir, url=server.grpc_address,
                          model="resnet50", protocol="grpc", concurrency=[1, 2, 4],
                          duration="1s", warmup=0, output="results.json")
    assert load.kind == "ok", load
    # where the files were saved is this run's temporary folder: keep the names only
    save("loadtest", {**load.data, "files": [Path(f).name for f in load.data["files"]]})


def main() -> int:
    bin_dir = find_binaries()
    if bin_dir is None:
        print("no control-plane binaries (run ./install.sh --dev)", file=sys.stderr)
        return 2
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_model_repository(workdir / "model_repository", DEFAULT_MODELS)
        with TritonServer() as server:
            asyncio.run(record_triton(server, workdir))
        cp = ControlPlane(bin_dir).start(with_controllers=True)
        try:
            cp.create_namespace(NAMESPACE)
            cp.add_node("node-a", gpus=1)
            asyncio.run(record_cluster(cp, workdir))
        finally:
            cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
