"""The demo at scale: bounded work per controller pass, and indexes that agree with a scan.

Scaling the demo to thousands once stopped the app for a minute: every new pod looked at
every other pod. Controllers now create and delete in bursts per pass (as the real
ReplicaSet controller's burstReplicas), and per-pod lookups go through indexes; these tests
hold both: a scale returns after one burst, the ramp completes over ticks, and after a
busy life every index answers exactly what a full scan of the world answers.
"""

from __future__ import annotations

import random
import time

from mlops_tui.backends.actions.operate import MAX_REPLICAS
from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.demo import pods as kubelet
from mlops_tui.backends.demo.controllers import BURST_REPLICAS
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.models import BackendSettings, ResourceRef

NOW = 1_732_262_400.0


async def _backend(**kw) -> DemoBackend:
    backend = DemoBackend(BackendSettings(), seed=7, now=lambda: NOW,
                          frozen=kw.pop("frozen", True), tick_interval=3600, **kw)
    await backend.connect()
    return backend


def _ref(backend: DemoBackend, alias: str, name: str, namespace: str) -> ResourceRef:
    kind = backend.resolve_kind(alias)
    assert kind is not None
    return ResourceRef(kind, name, namespace)


def _owned(world: World, uid: str) -> int:
    return sum(1 for p in world.list("pods")
               if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or ())
               and kubelet.active(p) and not kubelet.deleting(p))


async def test_scale_to_the_maximum_ramps_in_bursts():
    backend = await _backend(frozen=False)  # pods take ticks to start, as in the app
    try:
        world = backend.world
        dep = world.get("deployments", "default", "hello-mlops")
        assert dep is not None
        rs = world.owned_by("replicasets", dep["metadata"]["uid"])[-1]
        before = _owned(world, rs["metadata"]["uid"])
        started = time.perf_counter()
        await backend.scale(_ref(backend, "deploy", "hello-mlops", "default"), MAX_REPLICAS)
        assert time.perf_counter() - started < 2.0  # one burst, not ten thousand pods
        assert _owned(world, rs["metadata"]["uid"]) == before + BURST_REPLICAS
        slowest = 0.0
        for _ in range(MAX_REPLICAS // BURST_REPLICAS + 5):
            t = time.perf_counter()
            backend.tick()
            slowest = max(slowest, time.perf_counter() - t)
        assert _owned(world, rs["metadata"]["uid"]) == MAX_REPLICAS
        assert slowest < 2.0, f"a tick took {slowest:.2f}s"
        status = world.get("replicasets", "default", rs["metadata"]["name"])["status"]
        assert status["replicas"] == MAX_REPLICAS

        await backend.scale(_ref(backend, "deploy", "hello-mlops", "default"), 1)
        for _ in range(MAX_REPLICAS // BURST_REPLICAS + 5):
            backend.tick()
        assert _owned(world, rs["metadata"]["uid"]) == 1
    finally:
        await backend.close()


async def test_gpu_pods_beyond_capacity_stay_pending_and_take_freed_gpus():
    backend = await _backend()
    world = backend.world
    await backend.scale(_ref(backend, "deploy", "triton-resnet50", "triton"), 400)
    for _ in range(3):
        backend.tick()
    pending = len(kubelet.pending_pods(world))
    assert pending > 300  # a handful of GPUs for 400 replicas
    bert = [p for p in world.list("pods", "triton") if p["metadata"]["name"].startswith(
        "triton-bert-") and p["spec"].get("nodeName") and kubelet.active(p)]
    held = {n["metadata"]["name"]: kubelet.gpu_requested(world, n["metadata"]["name"])
            for n in world.list("nodes")}
    assert bert
    # bert's pods go and nothing replaces them: only the retry of the waiting replicas,
    # which follows the change (not a timer), can take the GPUs they free
    await backend.scale(_ref(backend, "deploy", "triton-bert", "triton"), 0)
    assert len(kubelet.pending_pods(world)) == pending - len(bert)
    assert {n: kubelet.gpu_requested(world, n) for n in held} == held


async def test_indexes_agree_with_a_full_scan_after_a_busy_life():
    backend = await _backend(frozen=False)
    try:
        world, rng = backend.world, random.Random(11)
        deploys = [("default", "hello-mlops"), ("triton", "triton-resnet50"),
                   ("triton", "triton-bert")]
        for step in range(40):
            ns, name = rng.choice(deploys)
            if step % 5 == 0:
                await backend.scale(_ref(backend, "deploy", name, ns), rng.randint(0, 600))
            elif step % 7 == 0:
                pods = [p for p in world.list("pods", ns) if kubelet.active(p)]
                if pods:
                    victim = rng.choice(pods)["metadata"]["name"]
                    await backend.delete(_ref(backend, "po", victim, ns), force=step % 2 == 0)
            backend.tick()
        everything = world.list("pods")
        for node in world.list("nodes"):
            name = node["metadata"]["name"]
            scan = [p for p in everything if p["spec"].get("nodeName") == name]
            assert kubelet.pods_on(world, name) == scan
            gpu = [p for p in scan if kubelet.active(p) and kubelet.extended(p)]
            assert sorted(map(id, kubelet.gpu_pods_on(world, name))) == sorted(map(id, gpu))
        for kind in ("replicasets", "deployments", "statefulsets", "daemonsets", "jobs"):
            for owner in world.list(kind):
                uid = owner["metadata"]["uid"]
                scan = [p for p in everything if any(
                    r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or ())]
                assert world.owned_by("pods", uid) == scan
        assert kubelet.pending_pods(world) == [
            p for p in everything if not p["spec"].get("nodeName") and kubelet.active(p)
            and not kubelet.deleting(p)]
        some = everything[:: max(1, len(everything) // 50)]
        for pod in some:
            uid = pod["metadata"]["uid"]
            scan = [e for e in world.list("events") if e["involvedObject"].get("uid") == uid]
            assert sorted(map(id, world.events_for(uid))) == sorted(map(id, scan))
    finally:
        await backend.close()
