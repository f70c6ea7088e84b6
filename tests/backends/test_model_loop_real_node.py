"""The whole model loop on a real node: kubelet + containerd run the pods (tests/cluster/
node.py), the real tritonserver image serves a repository the test writes.

deploy (local repository → ConfigMap + init container; the node's local images, its
toleration and node selector, ``image_pull_policy: Never``) → rollout → verdict Ready →
wait for model_ready → infer through a port-forward (HTTP and gRPC) → a short load test →
the ``:models`` panel data from a real Prometheus scraping the pod's IP:8002 names that pod
and its requests → undeploy. Then what must fail, and how: a model that fails to load, a
crash-looping container, an image that cannot be pulled, a GPU request no node can meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from mlops_tui.backends.actions import EventKind, Failure
from tests.backends.test_deploy_actions import last, lines, run
from tests.servers.prometheus import PrometheusServer, ScrapeTarget
from tests.servers.triton import BROKEN_MODEL, ModelSpec, write_model_repository

pytestmark = pytest.mark.apiserver
MODEL = "resnet50"


@dataclass(frozen=True)
class PodTarget(ScrapeTarget):
    """A scrape job on a pod's address (ScrapeTarget scrapes 127.0.0.1 only)."""

    host: str = ""

    def config(self) -> dict[str, Any]:
        job = super().config()
        job["static_configs"][0]["targets"] = [f"{self.host}:{self.port}"]
        return job


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_model_repository(tmp_path / "model_repository", [ModelSpec(MODEL)])


def on_node(node, **extra) -> dict:
    """A deploy step for the real node: its images, toleration and node selector."""
    return {"name": "resnet", "model_repository": "model_repository",
            "image": node.images["triton"], "init_image": node.images["busybox"],
            "image_pull_policy": "Never", "replicas": 1, "gpus": 0,
            "tolerations": [node.toleration], "node_selector": node.node_selector,
            "startup_timeout_s": 120, "timeout": "180s", **extra}


def models_panel(url: str, pod: str) -> list:
    """The ``:models`` screen's table rows, as the app reads them, for the deployment's pods."""
    from mlops_tui.backends.metrics_models import Screen, Window
    from mlops_tui.backends.models import MetricsSettings
    from mlops_tui.backends.prometheus.source import PrometheusSource

    async def read() -> list:
        source = PrometheusSource(url, MetricsSettings(rate_window="10s"))
        try:
            snapshot = await source.snapshot(Screen.MODELS, Window.M5, pods="resnet")
            assert not snapshot.errors, snapshot.errors
            return [m for m in snapshot.models if m.pod == pod]
        finally:
            await source.close()
    return asyncio.run(read())


def server_logs(admin_api, namespace: str) -> str:
    """The server containers' last lines (this run's and the one before), for a failure
    message."""
    core = k8s.CoreV1Api(admin_api)
    out = []
    for pod in core.list_namespaced_pod(namespace).items:
        for previous in (True, False):
            try:
                text = core.read_namespaced_pod_log(pod.metadata.name, namespace,
                                                    container="tritonserver",
                                                    previous=previous, tail_lines=15)
            except k8s.ApiException as exc:
                text = f"({exc.status})"
            out.append(f"--- {pod.metadata.name} previous={previous}\n{text}")
    return "\n".join(out)


def cancelled_loadtest_leaves_no_forward(backend, namespace: str) -> list:
    """Cancel a running load test (as Ctrl-C does): the port-forwards open afterwards."""
    from mlops_tui.backends.actions import ACTIONS, ActionContext, execute

    spec = ACTIONS["loadtest"]
    request = spec.request.model_validate({"name": "resnet", "model": MODEL,
                                           "protocol": "http", "concurrency": [4],
                                           "duration": "60s", "warmup": 0})

    async def cancel() -> list:
        running = asyncio.Event()

        async def consume() -> None:
            async for event in execute(spec, ActionContext(backend, namespace), request):
                if event.kind == EventKind.PROGRESS and isinstance(event.data, dict):
                    running.set()  # the engine reports: requests are flowing
        task = asyncio.create_task(consume())
        await asyncio.wait_for(running.wait(), 30)
        assert backend.forwards(), "a port-forward carries the load"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return backend.forwards()
    return asyncio.run(cancel())


def test_the_whole_loop_on_a_real_node(real_node, make_backend, fresh_namespace, tmp_path,
                                       repo, admin_api):
    backend = make_backend()
    deployed = run(backend, "deploy", fresh_namespace, tmp_path, **on_node(real_node))
    end = last(deployed)
    assert end.kind == EventKind.OK, "\n".join(
        [e.message for e in deployed if e.kind != EventKind.OUTPUT]
        + [server_logs(admin_api, fresh_namespace)])
    assert end.data["verdict"]["state"] == "Ready"
    fractions = [e.fraction for e in deployed if e.kind == EventKind.PROGRESS
                 and e.fraction is not None]
    assert all(0 <= f <= 1 for f in fractions)

    ready = run(backend, "wait", fresh_namespace, name="resnet", model=MODEL,
                timeout="60s", **{"for": "model_ready"})
    assert last(ready).kind == EventKind.OK, [e.message for e in ready]
    (pod,) = k8s.CoreV1Api(admin_api).list_namespaced_pod(
        fresh_namespace, label_selector="app.kubernetes.io/name=resnet").items
    assert real_node.pod_ip_reachable(pod.status.pod_ip, 8002)

    target = PodTarget("triton", 8002, host=pod.status.pod_ip,
                       labels={"namespace": fresh_namespace, "pod": pod.metadata.name})
    with PrometheusServer([target], scrape_interval="1s") as prometheus:
        prometheus.wait_for_targets()
        for protocol in ("http", "grpc"):
            answer = run(backend, "infer", fresh_namespace, name="resnet", model=MODEL,
                         protocol=protocol, inputs="random")
            assert last(answer).kind == EventKind.OK, [e.message for e in answer]
            assert [o["name"] for o in last(answer).data["outputs"]] == ["OUTPUT__0"]
            assert "via port-forward" in lines(answer, EventKind.PROGRESS)[0]

        load = run(backend, "loadtest", fresh_namespace, tmp_path, name="resnet",
                   model=MODEL, protocol="grpc", concurrency=[1, 2], duration="2s",
                   warmup=0, output="results.json")
        assert last(load).kind == EventKind.OK, [e.message for e in load]
        assert all(s["requests"] > 0 for s in last(load).data["steps"])
        assert (tmp_path / "results.json").exists() and (tmp_path / "results.csv").exists()

        deadline = time.monotonic() + 30
        rows: list = []
        while time.monotonic() < deadline and not any(r.throughput_rps > 0 for r in rows):
            rows = models_panel(prometheus.url, pod.metadata.name)
            time.sleep(1)
        assert rows and rows[0].model == MODEL and rows[0].namespace == fresh_namespace
        assert rows[0].throughput_rps > 0

    assert cancelled_loadtest_leaves_no_forward(backend, fresh_namespace) == []

    gone = run(backend, "undeploy", fresh_namespace, name="resnet")
    assert last(gone).kind == EventKind.OK
    assert k8s.AppsV1Api(admin_api).list_namespaced_deployment(fresh_namespace).items == []


def failed(events: list):
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), [
        e.message for e in events]
    return end


def test_a_model_that_fails_to_load_is_named(real_node, make_backend, fresh_namespace,
                                             tmp_path, repo):
    write_model_repository(repo, [BROKEN_MODEL])
    started = time.monotonic()
    end = failed(run(make_backend(), "deploy", fresh_namespace, tmp_path,
                     **on_node(real_node, extra_args=["--exit-on-error=false"])))
    assert "model 'broken' failed to load" in end.message, end.message
    assert "this model refuses to load" in end.message
    assert time.monotonic() - started < 150  # at once, not at the timeout
    # the same verdict from the wait step, which names the model it waits for
    waited = run(make_backend(), "wait", fresh_namespace, name="resnet", model="broken",
                 timeout="60s", **{"for": "model_ready"})
    assert "model 'broken' failed to load" in failed(waited).message


def test_a_crash_looping_server_fails_the_deploy(real_node, make_backend, fresh_namespace,
                                                 tmp_path, repo):
    end = failed(run(make_backend(), "deploy", fresh_namespace, tmp_path,
                     **on_node(real_node, extra_args=["--no-such-option=1"])))
    assert "CrashLoopBackOff" in end.message or "restarts" in end.message, end.message


def test_an_image_that_cannot_be_pulled_fails_the_deploy(real_node, make_backend,
                                                         fresh_namespace, tmp_path, repo):
    image = f"localhost/mlops-tui-test/absent-{secrets.token_hex(3)}:1.0"
    end = failed(run(make_backend(), "deploy", fresh_namespace, tmp_path,
                     **on_node(real_node, image=image)))
    assert "ErrImageNeverPull" in end.message or "ImagePull" in end.message, end.message


def test_a_gpu_request_no_node_meets_fails_the_deploy(real_node, make_backend,
                                                      fresh_namespace, tmp_path, repo):
    end = failed(run(make_backend(), "deploy", fresh_namespace, tmp_path,
                     **on_node(real_node, gpus=1)))
    assert "Insufficient nvidia.com/gpu" in end.message, end.message
