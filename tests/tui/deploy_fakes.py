"""A test-local action table for the deploy wizard: the documented request shapes of
check_repository, deploy, wait (model_ready), infer, loadtest, rollback and undeploy, with
fixed answers.

Used for what the real actions cannot be made to do on demand here (a rollout that never
ends, so cancellation can be tested; hostile text in a server's answer; fixed load-test
figures for a snapshot). The real table runs in the apiserver tests of
test_deploy_screen.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import Field

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import ActionSpec, CheckFailed, Request

MANIFESTS = [
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "resnet", "namespace": "default",
                  "labels": {"app.kubernetes.io/name": "resnet"}},
     "spec": {"replicas": 2, "template": {"spec": {"containers": [
         {"name": "tritonserver", "image": "nvcr.io/nvidia/tritonserver:24.10-py3"}]}}}},
    {"apiVersion": "v1", "kind": "Service",
     "metadata": {"name": "resnet", "namespace": "default"},
     "spec": {"ports": [{"name": "http", "port": 8000}, {"name": "grpc", "port": 8001}]}},
]
DIFF = ("--- live/Deployment/resnet\n+++ new/Deployment/resnet\n@@ -1,2 +1,2 @@\n"
        "-  replicas: 1\n+  replicas: 2\n")
VERDICT = {"state": "Ready", "summary": "2/2 replicas Ready", "replicas": [
    {"pod": "resnet-7d9f-abcde", "state": "Ready", "reason": "model resnet50 ready"},
    {"pod": "resnet-7d9f-fghij", "state": "Ready", "reason": "model resnet50 ready"}]}
STEPS = [
    {"mode": "concurrency", "level": 1, "requests": 1200, "duration_s": 10.0,
     "throughput_rps": 120.0, "p50_ms": 8.1, "p90_ms": 9.0, "p95_ms": 9.4, "p99_ms": 11.2,
     "mean_ms": 8.3, "errors": {}},
    {"mode": "concurrency", "level": 4, "requests": 4100, "duration_s": 10.0,
     "throughput_rps": 410.0, "p50_ms": 9.5, "p90_ms": 11.0, "p95_ms": 12.1, "p99_ms": 14.9,
     "mean_ms": 9.8, "errors": {}},
    {"mode": "concurrency", "level": 16, "requests": 6400, "duration_s": 10.0,
     "throughput_rps": 640.0, "p50_ms": 24.0, "p90_ms": 30.2, "p95_ms": 33.0, "p99_ms": 41.7,
     "mean_ms": 25.0, "errors": {"timeout": 3}},
]


class Calls:
    """What the fake actions were asked (request dicts, in order)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, dict]] = []
        self.release = asyncio.Event()  # a "slow" deploy waits for it

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


class RepositoryRequest(Request):
    path: str


class DeployRequest(Request):
    name: str
    model_repository: str
    runtime: Literal["triton", "kserve"] = "triton"
    replicas: int = 1
    gpus: int = 0
    image: str | None = None
    namespace: str | None = None
    dry_run: bool = False


class WaitRequest(Request):
    for_: str = Field(alias="for")
    name: str
    model: str
    timeout: str = "5m"


class TritonRequest(Request):
    name: str
    model: str
    protocol: Literal["http", "grpc"] = "grpc"
    inputs: str = "random"


class LoadtestRequest(Request):
    name: str
    model: str
    protocol: Literal["http", "grpc"] = "grpc"
    concurrency: list[int]
    duration: str = "10s"
    output: str | None = None


class NameRequest(Request):
    name: str


def table(calls: Calls, *, slow_apply: bool = False, hostile: bool = False,
          repository_problems: tuple[str, ...] = ()) -> dict[str, ActionSpec]:
    """The fake actions, recording into ``calls``."""

    async def check(ctx, req: RepositoryRequest) -> AsyncIterator:
        calls.log.append(("check_repository", req.model_dump()))
        yield events.output("model resnet50 (onnxruntime, versions 1)")
        if repository_problems:
            for line in repository_problems:
                yield events.output(line)
            raise CheckFailed(f"model repository {req.path}: problems",
                              data={"problems": list(repository_problems)})
        yield events.ok(f"model repository {req.path}: 1 model",
                        {"models": ["resnet50 (onnxruntime, versions 1)"]})

    async def deploy(ctx, req: DeployRequest) -> AsyncIterator:
        calls.log.append(("deploy", {**req.model_dump(), "ctx_namespace": ctx.namespace}))
        if req.dry_run:
            manifests = MANIFESTS
            diff = DIFF
            if hostile:
                manifests = [{"kind": "ConfigMap", "metadata": {"name": "[b]x[/b]"},
                              "data": {"[/]": "[red]boom[/red]"}}]
                diff = "+[link=file:///etc/passwd]x\n-[/]\n+\x1b[2Jclear\x07\n"
            yield events.output("apiVersion: apps/v1 ...")
            yield events.ok("dry run: 2 objects, 1 changed", {"manifests": manifests,
                                                              "diff": diff})
            return
        yield events.progress("applied 2 objects", 0.0)
        if slow_apply:
            await calls.release.wait()
        yield events.progress("1/2 replicas ready", 0.5)
        yield events.progress("2/2 replicas ready", 1.0)
        yield events.ok("resnet: 2/2 replicas Ready", {"verdict": VERDICT})

    async def wait(ctx, req: WaitRequest) -> AsyncIterator:
        calls.log.append(("wait", req.model_dump()))
        yield events.ok("model resnet50 ready on 2/2 replicas", VERDICT)

    async def infer(ctx, req: TritonRequest) -> AsyncIterator:
        calls.log.append(("infer", req.model_dump()))
        yield events.output("OUTPUT__0 FP32 [1, 1000] [0.1, 0.2, ...]")
        yield events.ok("resnet50: 1 output in 4.20 ms", {
            "model": req.model, "latency_ms": 4.2,
            "outputs": [{"name": "OUTPUT__0", "datatype": "FP32", "shape": [1, 1000],
                         "preview": [0.1, 0.2, 0.3]}]})

    async def loadtest(ctx, req: LoadtestRequest) -> AsyncIterator:
        calls.log.append(("loadtest", req.model_dump()))
        for i, level in enumerate(req.concurrency):
            yield events.progress(f"step {i + 1}/{len(req.concurrency)} at {level}",
                                  (i + 1) / len(req.concurrency))
        files = [f"/tmp/{req.output}", f"/tmp/{req.output}".replace(".json", ".csv")] if (
            req.output) else []
        yield events.ok("3 steps, best 640.0 req/s at 16", {"steps": STEPS, "files": files})

    async def simple(ctx, req: NameRequest) -> AsyncIterator:
        calls.log.append(("name", req.model_dump()))
        yield events.ok(f"{req.name}: done")

    return {spec.name: spec for spec in (
        ActionSpec("check_repository", RepositoryRequest, check, "check"),
        ActionSpec("deploy", DeployRequest, deploy, "deploy", mutating=True),
        ActionSpec("wait", WaitRequest, wait, "wait"),
        ActionSpec("infer", TritonRequest, infer, "infer"),
        ActionSpec("loadtest", LoadtestRequest, loadtest, "loadtest"),
        ActionSpec("rollback", NameRequest, simple, "rollback", mutating=True),
        ActionSpec("undeploy", NameRequest, simple, "undeploy", mutating=True),
    )}
