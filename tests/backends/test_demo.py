"""The demo backend: a simulated cluster behind every capability protocol.

Frozen worlds with an injected clock are deterministic, so most tests assert exact facts;
the ticking tests use a short tick interval and wait for the change they expect.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time

import pytest

from mlops_tui.backends.demo import DemoBackend, create_backend
from mlops_tui.backends.errors import (
    BackendError,
    ConfigError,
    NotFound,
    ReadOnlyError,
    UnsupportedError,
)
from mlops_tui.backends.models import BackendSettings, ResourceRef, Row
from mlops_tui.backends.protocols import (
    ClusterBackend,
    ContextSwitcher,
    Deleter,
    Describer,
    LogSource,
    NodeOperator,
    Restarter,
    Scaler,
)

NOW = 1_732_262_400.0  # 2024-11-22T08:00:00Z


def frozen(**kw) -> DemoBackend:
    settings = kw.pop("settings", BackendSettings())
    return DemoBackend(settings, seed=kw.pop("seed", 7), now=lambda: NOW, frozen=True, **kw)


@pytest.fixture
async def demo():
    backend = frozen()
    await backend.connect()
    yield backend
    await backend.close()


def ref(b: DemoBackend, alias: str, name: str, namespace: str = "") -> ResourceRef:
    kind = b.resolve_kind(alias)
    assert kind is not None, alias
    return ResourceRef(kind, name, namespace)


def rows(b: DemoBackend, alias: str, namespace: str = "") -> list[Row]:
    return b.cache(b.resolve_kind(alias), namespace).rows()


def pods_named(b: DemoBackend, prefix: str, namespace: str = "") -> list[Row]:
    return sorted((r for r in rows(b, "po", namespace) if r.name.startswith(prefix)),
                  key=lambda r: r.name)


def cell(b: DemoBackend, alias: str, row: Row, column: str) -> str:
    names = [c.name for c in b.cache(b.resolve_kind(alias), "").columns]
    return row.cells[names.index(column)]


def secret_values(b: DemoBackend) -> list[str]:
    out = []
    for sec in b.world.list("secrets"):
        for value in sec["data"].values():
            out += [value, base64.b64decode(value).decode()]
    return out


# -- the contract -------------------------------------------------------------------------
async def test_implements_every_capability(demo):
    for proto in (ClusterBackend, Describer, LogSource, Scaler, Deleter, Restarter,
                  NodeOperator, ContextSwitcher):
        assert isinstance(demo, proto), proto.__name__
    assert isinstance(create_backend(BackendSettings()), DemoBackend)


def test_backend_modules_never_import_the_ui():
    code = ("import sys, mlops_tui.backends.demo, mlops_tui.backends.demo.backend;"
            "bad = [m for m in ('textual', 'rich', 'mlops_tui.tui') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_connect_and_info(demo):
    info = demo.info()
    assert (info.context, info.user, info.server, info.version, info.namespace) == (
        "demo-gpu-cluster", "demo-admin", "https://demo.local:6443", "v1.30.2 (demo)", "")
    demo.set_namespace("triton")  # it starts on all namespaces: the whole GPU cluster
    assert demo.info().namespace == "triton"
    names = [k.name for k in demo.kinds()]
    assert names[0] == "pods" and names[-1] == "inferenceservices"
    isvc = demo.resolve_kind("isvc")
    assert isvc is not None and isvc.group == "serving.kserve.io" and isvc.version == "v1beta1"
    assert demo.resolve_kind("deploy").name == "deployments"
    assert demo.resolve_kind("no-such-kind") is None


async def test_unknown_context_at_connect_is_a_config_error():
    backend = frozen(settings=BackendSettings(context="prod"))
    with pytest.raises(ConfigError, match="demo-gpu-cluster"):
        await backend.connect()


# -- caches -------------------------------------------------------------------------------
async def test_caches_fill_and_render(demo):
    for kind in demo.kinds():
        store = demo.cache(kind, "")
        state = store.state()
        assert state.synced and not state.error and state.count > 0, kind.name
        assert all(len(r.cells) == len(store.columns) for r in store.rows()), kind.name
    assert len(rows(demo, "ns")) == 7
    assert len(rows(demo, "no")) == 6
    assert len(rows(demo, "po")) >= 38
    assert len(rows(demo, "isvc")) == 2
    statuses = {cell(demo, "po", r, "STATUS") for r in rows(demo, "po")}
    assert {"Running", "Pending", "CrashLoopBackOff", "Completed"} <= statuses


async def test_node_rows_join_gpu_requests_of_their_pods(demo):
    nodes = {r.name: r for r in rows(demo, "no")}
    assert cell(demo, "no", nodes["gpu-a100-1"], "GPU-REQ") == "7/8"
    assert cell(demo, "no", nodes["gpu-h100-1"], "GPU-REQ") == "6/8"
    assert cell(demo, "no", nodes["gpu-a100-mig-1"], "GPU") == "7×1g.10gb"
    assert cell(demo, "no", nodes["gpu-a100-mig-1"], "GPU-REQ") == "3/7"
    assert cell(demo, "no", nodes["cpu-worker-2"], "STATUS") == "NotReady"
    assert nodes["cpu-worker-2"].status == "error"


async def test_pending_pod_says_why(demo):
    (pending,) = pods_named(demo, "llm-finetune")
    assert cell(demo, "po", pending, "STATUS") == "Pending"
    events = [r for r in rows(demo, "ev") if r.cells[4] == f"pod/{pending.name}"]
    assert any("0/6 nodes are available" in r.cells[6]
               and "Insufficient nvidia.com/gpu" in r.cells[6] for r in events)


async def test_namespaced_and_cluster_scoped_stores(demo):
    pod_kind = demo.resolve_kind("po")
    triton = demo.cache(pod_kind, "triton")
    assert triton is demo.cache(pod_kind, "triton")  # the same store for repeated calls
    assert triton.rows() and {r.namespace for r in triton.rows()} == {"triton"}
    node_kind = demo.resolve_kind("no")
    assert demo.cache(node_kind, "triton") is demo.cache(node_kind, "")


def _snapshot(b: DemoBackend) -> dict[str, list[tuple]]:
    return {k.name: sorted((r.uid, r.cells, r.status) for r in b.cache(k, "").rows())
            for k in b.kinds()}


async def test_frozen_world_is_deterministic():
    one, two, other = frozen(), frozen(), frozen(seed=8)
    assert _snapshot(one) == _snapshot(two)
    assert _snapshot(one)["pods"] != _snapshot(other)["pods"]  # uids and names follow the seed
    one.tick(30)
    two.tick(30)
    assert _snapshot(one) == _snapshot(two)


async def test_frozen_world_does_not_tick():
    backend = frozen(tick_interval=0.01)
    await backend.connect()
    store = backend.cache(backend.resolve_kind("po"), "")
    version = store.changes_since(0).version
    await asyncio.sleep(0.2)
    assert store.changes_since(version).upserts == ()
    assert backend.world.ticks == 0
    await backend.close()


async def test_ticking_world_sends_incremental_changes():
    backend = DemoBackend(BackendSettings(), seed=1, tick_interval=0.01)
    await backend.connect()
    store = backend.cache(backend.resolve_kind("po"), "")
    first = store.changes_since(0)
    assert first.reset
    (crash,) = pods_named(backend, "triton-gpt2")
    restarts = int(cell(backend, "po", crash, "RESTARTS"))
    changes = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        changes = store.changes_since(first.version)
        if any(r.uid == crash.uid for r in changes.upserts):
            break
    assert changes is not None and not changes.reset
    assert 0 < len(changes.upserts) < len(first.upserts)  # one object at a time
    await asyncio.sleep(0.2)
    assert int(cell(backend, "po", store.get(crash.uid), "RESTARTS")) > restarts
    await backend.close()
    ticks = backend.world.ticks
    await asyncio.sleep(0.1)
    assert backend.world.ticks == ticks  # close() stopped the ticker


async def test_manual_ticks_restart_the_crash_loop(demo):
    (crash,) = pods_named(demo, "triton-gpt2")
    demo.tick(13)
    after = demo.cache(demo.resolve_kind("po"), "").get(crash.uid)
    assert int(cell(demo, "po", after, "RESTARTS")) == 37 + 2


# -- actions ------------------------------------------------------------------------------
async def test_scale_changes_replicas_and_pods(demo):
    deploy = ref(demo, "deploy", "triton-resnet50", "triton")
    assert (await demo.get_object(deploy))["spec"]["replicas"] == 2
    await demo.scale(deploy, 1)
    assert (await demo.get_object(deploy))["spec"]["replicas"] == 1
    assert len(pods_named(demo, "triton-resnet50")) == 1
    (row,) = [r for r in rows(demo, "deploy") if r.name == "triton-resnet50"]
    assert cell(demo, "deploy", row, "READY") == "1/1"
    await demo.scale(deploy, 3)
    assert len(pods_named(demo, "triton-resnet50")) == 3


async def test_freeing_gpus_lets_the_pending_pod_run(demo):
    await demo.scale(ref(demo, "sts", "triton-llama", "triton"), 0)
    assert pods_named(demo, "triton-llama") == []
    (finetune,) = pods_named(demo, "llm-finetune")
    assert cell(demo, "po", finetune, "STATUS") == "Running"
    assert cell(demo, "po", finetune, "NODE") == "gpu-h100-1"
    (node,) = [r for r in rows(demo, "no") if r.name == "gpu-h100-1"]
    assert cell(demo, "no", node, "GPU-REQ") == "6/8"


async def test_delete_pod_is_replaced_and_delete_deployment_cascades(demo):
    before = pods_named(demo, "triton-resnet50")
    await demo.delete(ref(demo, "po", before[0].name, "triton"))
    after = pods_named(demo, "triton-resnet50")
    assert len(after) == 2 and before[0].name not in {r.name for r in after}
    await demo.delete(ref(demo, "deploy", "triton-resnet50", "triton"))
    assert pods_named(demo, "triton-resnet50") == []
    assert not [r for r in rows(demo, "rs") if r.name.startswith("triton-resnet50")]
    with pytest.raises(NotFound):
        await demo.describe(ref(demo, "deploy", "triton-resnet50", "triton"))


async def test_restart_stamps_template_and_replaces_pods(demo):
    old = {r.name for r in pods_named(demo, "triton-bert")}
    await demo.restart(ref(demo, "deploy", "triton-bert", "triton"))
    new = {r.name for r in pods_named(demo, "triton-bert")}
    assert len(new) == 3 and not old & new
    assert "kubectl.kubernetes.io/restartedAt" in await demo.yaml(
        ref(demo, "deploy", "triton-bert", "triton"))
    sets = [r for r in rows(demo, "rs") if r.name.startswith("triton-bert-")]
    assert len(sets) == 2  # the old replicaset stays, scaled to 0
    old_ds = {r.name for r in pods_named(demo, "dcgm-exporter")}
    await demo.restart(ref(demo, "ds", "dcgm-exporter", "gpu-operator"))
    new_ds = {r.name for r in pods_named(demo, "dcgm-exporter")}
    assert len(new_ds) == 3 and not old_ds & new_ds


async def test_cordon_and_uncordon(demo):
    node = ref(demo, "no", "gpu-a100-1")
    await demo.cordon(node)
    (row,) = [r for r in rows(demo, "no") if r.name == "gpu-a100-1"]
    assert cell(demo, "no", row, "STATUS") == "Ready,SchedulingDisabled"
    await demo.cordon(node, False)
    (row,) = [r for r in rows(demo, "no") if r.name == "gpu-a100-1"]
    assert cell(demo, "no", row, "STATUS") == "Ready"


async def test_drain_evicts_all_but_daemonset_pods(demo):
    lines = [line async for line in demo.drain(ref(demo, "no", "gpu-h100-1"))]
    assert lines[0] == "node/gpu-h100-1 cordoned"
    assert lines[1].startswith("Warning: ignoring DaemonSet-managed Pods:")
    assert "evicting pod triton/triton-llama-0" in lines
    assert "pod/triton-llama-0 evicted" in lines
    assert lines[-1] == "node/gpu-h100-1 drained"
    left = [r for r in rows(demo, "po") if cell(demo, "po", r, "NODE") == "gpu-h100-1"]
    assert left and all(r.name.startswith(("kube-proxy", "dcgm-exporter", "nvidia-device"))
                        for r in left)
    # the statefulset only fits on H100 nodes: its new pods wait for one
    assert {cell(demo, "po", r, "STATUS") for r in pods_named(demo, "triton-llama")} == {
        "Pending"}


async def test_readonly_refuses_every_change():
    backend = frozen(settings=BackendSettings(readonly=True))
    await backend.connect()
    before = _snapshot(backend)
    deploy = ref(backend, "deploy", "triton-bert", "triton")
    node = ref(backend, "no", "gpu-a100-1")
    for call in (backend.scale(deploy, 0), backend.restart(deploy), backend.delete(deploy),
                 backend.cordon(node)):
        with pytest.raises(ReadOnlyError, match="read-only"):
            await call
    with pytest.raises(ReadOnlyError):
        backend.drain(node)
    assert _snapshot(backend) == before
    assert (await backend.get_object(deploy))["spec"]["replicas"] == 3  # reads still work


async def test_missing_and_unsupported(demo):
    with pytest.raises(NotFound):
        await demo.describe(ref(demo, "po", "nope", "triton"))
    with pytest.raises(NotFound):
        await demo.scale(ref(demo, "deploy", "nope", "triton"), 1)
    (pod,) = pods_named(demo, "triton-gpt2")
    with pytest.raises(UnsupportedError):
        await demo.scale(ref(demo, "po", pod.name, "triton"), 2)


# -- describe, yaml, secrets --------------------------------------------------------------
async def test_describe_pod_has_the_kubectl_sections(demo):
    (pod,) = pods_named(demo, "triton-gpt2")
    text = await demo.describe(ref(demo, "po", pod.name, "triton"))
    for part in ("Name:", "Namespace:", "Labels:", "Annotations:", "Status:", "Containers:",
                 "nvidia.com/gpu:  1", "Restart Count:", "CrashLoopBackOff", "Conditions:",
                 "Events:", "BackOff"):
        assert part in text, part
    assert text.index("Conditions:") < text.index("Events:")
    node = await demo.describe(ref(demo, "no", "gpu-a100-1"))
    assert "Allocated resources:" in node and "7/8" in node


async def test_yaml_drops_managed_fields(demo):
    (pod,) = pods_named(demo, "triton-llama-0")
    text = await demo.yaml(ref(demo, "po", pod.name, "triton"))
    assert "managedFields" not in text and "nodeName: gpu-h100-1" in text
    assert any(p["metadata"].get("managedFields") for p in demo.world.list("pods"))


async def test_secret_values_never_shown(demo):
    values = secret_values(demo)
    assert values
    shown = [r.search_text + " ".join(r.cells) for k in demo.kinds()
             for r in demo.cache(k, "").rows()]
    for sec in demo.world.list("secrets"):
        target = ref(demo, "secret", sec["metadata"]["name"], sec["metadata"]["namespace"])
        shown += [await demo.describe(target), await demo.yaml(target)]
        for key in sec["data"]:
            assert key in shown[-1] and key in shown[-2]
        assert "<redacted>" in shown[-1]
    for value in values:
        assert not any(value in text for text in shown), value


# -- logs ---------------------------------------------------------------------------------
async def test_logs_of_a_triton_pod(demo):
    pod = pods_named(demo, "triton-resnet50")[0]
    target = ref(demo, "po", pod.name, "triton")
    assert await demo.containers(target) == ["triton"]
    everything = [line async for line in demo.logs(target, follow=False, tail_lines=None)]
    assert any("successfully loaded 'resnet50' version 1" in line for line in everything)
    assert any("Started HTTPService at 0.0.0.0:8000" in line for line in everything)
    tail = [line async for line in demo.logs(target, follow=False, tail_lines=5)]
    assert tail == everything[-5:]
    assert [line async for line in demo.logs(target, follow=False, tail_lines=0)] == []
    with pytest.raises(NotFound, match="previous terminated container"):
        demo.logs(target, previous=True)
    with pytest.raises(NotFound):
        demo.logs(target, container="sidecar")
    again = [line async for line in demo.logs(target, follow=False, tail_lines=None)]
    assert again == everything  # deterministic


async def test_previous_logs_of_the_crash_loop_end_with_the_crash(demo):
    (pod,) = pods_named(demo, "triton-gpt2")
    lines = [line async for line in demo.logs(ref(demo, "po", pod.name, "triton"),
                                              previous=True, follow=False)]
    assert lines[-1] == "error: creating server: Internal - failed to load all models"


async def test_logs_of_a_workload_and_a_multi_container_pod(demo):
    lines = [line async for line in demo.logs(ref(demo, "deploy", "triton-bert", "triton"),
                                              follow=False, tail_lines=None)]
    assert any("successfully loaded 'bert-base' version 1" in line for line in lines)
    prom = ref(demo, "po", "prometheus-k8s-0", "monitoring")
    assert await demo.containers(prom) == ["prometheus", "config-reloader"]
    (pending,) = pods_named(demo, "llm-finetune")
    with pytest.raises(BackendError, match="host"):
        demo.logs(ref(demo, "po", pending.name, "team-a"))


async def test_logs_follow_yields_then_cancels():
    backend = frozen(log_interval=0.01)
    pod = pods_named(backend, "triton-resnet50")[0]
    seen: list[str] = []

    async def follow() -> None:
        async for line in backend.logs(ref(backend, "po", pod.name, "triton"), tail_lines=2):
            seen.append(line)

    task = asyncio.create_task(follow())
    deadline = time.monotonic() + 5
    while len(seen) < 6 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert len(seen) >= 6  # 2 history lines, then live ones
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- contexts -----------------------------------------------------------------------------
async def test_contexts_and_switching(demo):
    names = [(c.name, c.current) for c in demo.contexts()]
    assert names == [("demo-gpu-cluster", True), ("demo-edge", False)]
    store = demo.cache(demo.resolve_kind("po"), "")
    version = store.changes_since(0).version
    with pytest.raises(ConfigError, match="demo-edge"):
        await demo.use_context("staging")
    assert demo.info().context == "demo-gpu-cluster"
    await demo.scale(ref(demo, "deploy", "triton-bert", "triton"), 1)
    info = await demo.use_context("demo-edge")
    assert info.context == "demo-edge"
    changes = store.changes_since(version)
    assert changes.reset and changes.upserts
    assert all(not r.namespace.startswith("triton") for r in store.rows())
    assert "inferenceservices" not in [k.name for k in demo.kinds()]
    assert all(not cell(demo, "no", r, "GPU") for r in rows(demo, "no"))
    await demo.use_context("demo-gpu-cluster")
    assert len(pods_named(demo, "triton-bert")) == 1  # the first world kept its state
