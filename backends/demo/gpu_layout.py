"""Which GPUs the demo metrics report, and who holds each: the simulated DCGM inventory.

Read from a demo :class:`~backends.demo.world.World` (one GPU per ``nvidia.com/gpu`` of a
node, one MIG instance per ``nvidia.com/mig-*`` slice, handed to the pods bound there as
the device plugin would), or a fixed layout shaped like the demo GPU cluster when there is
no world. Pure data: the numbers themselves come from ``metrics.py``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from mlops_tui.backends.demo import pods as kubelet
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.render._common import (
    GPU_RESOURCE,
    MIG_PREFIX,
    Obj,
    gpu_count,
    parse_time,
    pod_gpu_request,
    quantity,
)

CARD_MIB = 81920.0  # an 80 GiB card
A100, H100 = "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
_PRODUCTS = {"NVIDIA-A100-SXM4-80GB": A100, "NVIDIA-H100-80GB-HBM3": H100}
_MIG = re.compile(r"(\d+)g\.(\d+)gb")


@dataclass(frozen=True, slots=True)
class GpuSlot:
    """One GPU or MIG instance and the pod holding it (empty strings when free)."""

    node: str
    gpu: str  # "3", or "0/mig-1g.10gb:2" for a MIG instance
    parent: str  # the physical GPU ("0" for every slice of the first card)
    uuid: str  # the physical GPU's UUID (DCGM labels MIG instances with the parent's)
    model: str  # DCGM's modelName
    total_mib: float
    mig: bool = False
    namespace: str = ""
    pod: str = ""
    container: str = ""
    app: str = ""  # the workload, which picks the load profile
    ready: bool = True  # False: crash-looping or still starting, so the GPU idles
    since: float = 0.0  # when the pod got the GPU (epoch seconds)


@dataclass(frozen=True, slots=True)
class ModelPod:
    """One Triton server (pod) serving one model."""

    model: str
    namespace: str
    pod: str
    app: str
    since: float = 0.0  # when the model started serving (its workload's creation)


@dataclass(frozen=True, slots=True)
class NodeLoad:
    node: str
    cpu: float  # requested share of allocatable, 0-1
    mem: float


@dataclass(frozen=True, slots=True)
class Layout:
    gpus: tuple[GpuSlot, ...] = ()
    models: tuple[ModelPod, ...] = ()
    nodes: tuple[NodeLoad, ...] = ()


@dataclass(frozen=True, slots=True)
class Holder:
    """A pod that asks for GPUs or MIG slices on a node, in the order it was scheduled."""

    uid: str
    namespace: str
    pod: str
    container: str
    app: str
    gpus: int = 0
    mig: dict[str, int] = field(default_factory=dict)  # "mig-1g.10gb" -> slices
    ready: bool = True
    since: float = 0.0


class Allocator:
    """Sticky device assignment: a pod keeps its GPUs while it lives; a newcomer takes the
    lowest free indices (deterministic, and rows do not reshuffle when pods come and go)."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {}

    def assign(self, node: str, pool: str, size: int,
               wants: list[tuple[str, int]]) -> dict[str, tuple[int, ...]]:
        held = self._held.setdefault((node, pool), {})
        live = {uid for uid, n in wants if n > 0}
        for uid in [u for u in held if u not in live]:
            del held[uid]
        taken = {i for idx in held.values() for i in idx}
        for uid, n in wants:
            if n <= 0 or uid in held:
                continue
            free = [i for i in range(size) if i not in taken][:n]
            held[uid] = tuple(free)
            taken.update(free)
        return dict(held)


def gpu_uuid(node: str, index: str) -> str:
    return "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}.gpu{index}.demo"))


def _mig_shape(profile: str) -> tuple[int, float]:
    """(instances per card, MiB each) of a profile such as "mig-1g.10gb"."""
    match = _MIG.search(profile)
    if not match:
        return 1, CARD_MIB
    compute, gb = int(match.group(1)), int(match.group(2))
    return max(1, 7 // compute), gb * 1024 * 0.975  # 1g.10gb: 9.75 GiB usable


def node_slots(node: str, model: str, whole: int, mig: dict[str, int],
               holders: list[Holder], allocator: Allocator) -> list[GpuSlot]:
    """Every GPU and MIG instance of ``node``, each with the holder the allocator gave it."""
    slots: list[GpuSlot] = []
    by_uid = {h.uid: h for h in holders}

    def owned(pool: str, size: int, wants: list[tuple[str, int]]) -> dict[int, Holder]:
        return {i: by_uid[uid] for uid, idx in allocator.assign(node, pool, size, wants).items()
                for i in idx}

    owner = owned("gpu", whole, [(h.uid, h.gpus) for h in holders])
    for i in range(whole):
        slots.append(_slot(node, str(i), str(i), model, CARD_MIB, False, owner.get(i)))
    first_card = whole
    for profile in sorted(mig):
        per_card, mib = _mig_shape(profile)
        owner = owned(profile, mig[profile], [(h.uid, h.mig.get(profile, 0)) for h in holders])
        for i in range(mig[profile]):
            parent = str(first_card + i // per_card)
            slots.append(_slot(node, f"{parent}/{profile}:{i % per_card}", parent, model, mib,
                               True, owner.get(i)))
        first_card += -(-mig[profile] // per_card)
    return slots


def _slot(node: str, gpu: str, parent: str, model: str, mib: float, mig: bool,
          holder: Holder | None) -> GpuSlot:
    slot = GpuSlot(node, gpu, parent, gpu_uuid(node, parent), model, mib, mig)
    if holder is None:
        return slot
    return GpuSlot(node, gpu, parent, slot.uuid, model, mib, mig, holder.namespace,
                   holder.pod, holder.container, holder.app, holder.ready, holder.since)


# -- from the demo world --------------------------------------------------------------------
def from_world(world: World, allocator: Allocator) -> Layout:
    """The GPUs, Triton servers and node loads of ``world`` as it is now."""
    with world.lock:
        nodes = sorted(world.list("nodes"), key=lambda n: n["metadata"]["name"])
        bound = sorted((p for p in world.list("pods")
                        if kubelet.active(p) and p["spec"].get("nodeName")), key=_order)
        slots: list[GpuSlot] = []
        loads: list[NodeLoad] = []
        for node in nodes:
            name = node["metadata"]["name"]
            here = [p for p in bound if p["spec"]["nodeName"] == name]
            if kubelet.node_ready(node):  # node-exporter on a NotReady node is not scraped
                loads.append(_node_load(node, here))
            whole, mig = gpu_count((node.get("status") or {}).get("allocatable"))
            if whole or mig:
                holders = [h for h in (_holder(world, p) for p in here) if h.gpus or h.mig]
                slots += node_slots(name, _product(node), whole, mig, holders, allocator)
        models = tuple(_model_pod(world, p) for p in bound if _is_triton(p)
                       and (p.get("status") or {}).get("phase") == "Running")
    return Layout(tuple(slots), tuple(sorted(models, key=lambda m: (m.model, m.pod))),
                  tuple(loads))


def _order(pod: Obj) -> tuple[float, str, str]:
    meta = pod["metadata"]
    return parse_time(meta.get("creationTimestamp")), meta.get("namespace", ""), meta["name"]


def _since(pod: Obj) -> float:
    return parse_time((pod.get("status") or {}).get("startTime")) or _order(pod)[0]


_PLURAL = {"ReplicaSet": "replicasets", "Deployment": "deployments",
           "StatefulSet": "statefulsets", "Job": "jobs", "DaemonSet": "daemonsets"}


def _controller(world: World, obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller", True) and ref.get("kind") in _PLURAL:
            return world.by_uid(_PLURAL[ref["kind"]], ref.get("uid", ""))
    return None


def _workload_since(world: World, pod: Obj) -> float:
    """When the pod's workload (a replicaset's deployment, a statefulset, a job) was made:
    a replaced pod inherits its predecessor's GPU and history. The pod's start otherwise."""
    owner = _controller(world, pod)
    if owner is not None and owner["kind"] == "ReplicaSet":
        owner = _controller(world, owner) or owner
    made = parse_time(owner["metadata"].get("creationTimestamp")) if owner else 0.0
    return min(made, _since(pod)) if made else _since(pod)


def _app(pod: Obj) -> str:
    labels = pod["metadata"].get("labels") or {}
    return labels.get("app") or labels.get("job-name") or pod["metadata"]["name"]


def _holder(world: World, pod: Obj) -> Holder:
    gpus, mig = pod_gpu_request(pod["spec"])
    container = next((c["name"] for c in pod["spec"].get("containers") or ()
                      if any(k == GPU_RESOURCE or k.startswith(MIG_PREFIX) for k in
                             ((c.get("resources") or {}).get("limits") or {}))), "")
    meta = pod["metadata"]
    return Holder(meta["uid"], meta.get("namespace", ""), meta["name"], container, _app(pod),
                  gpus, mig, kubelet.pod_ready(pod), _workload_since(world, pod))


def _product(node: Obj) -> str:
    label = (node["metadata"].get("labels") or {}).get("nvidia.com/gpu.product", "")
    return _PRODUCTS.get(label) or label.replace("NVIDIA-", "NVIDIA ", 1) or "NVIDIA GPU"


def _node_load(node: Obj, pods: list[Obj]) -> NodeLoad:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    cpu = mem = 0.0
    for pod in pods:
        for cont in pod["spec"].get("containers") or ():
            req = (cont.get("resources") or {}).get("requests") or {}
            cpu += quantity(req.get("cpu"))
            mem += quantity(req.get("memory"))
    return NodeLoad(node["metadata"]["name"], min(1.0, cpu / (quantity(alloc.get("cpu")) or 1)),
                    min(1.0, mem / (quantity(alloc.get("memory")) or 1)))


def _is_triton(pod: Obj) -> bool:
    return _app(pod).startswith("triton-") or any(
        "tritonserver" in c.get("image", "") for c in pod["spec"].get("containers") or ())


def _model_pod(world: World, pod: Obj) -> ModelPod:
    app, ns = _app(pod), pod["metadata"].get("namespace", "")
    return ModelPod(app.removeprefix("triton-"), ns, pod["metadata"]["name"], app,
                    _workload_since(world, pod))


# -- without a world --------------------------------------------------------------------------
# (node, DCGM model, GPUs, MIG slices, holders: namespace, pod, container, app, GPUs, ready)
_FIXED: tuple[tuple[str, str, int, dict[str, int], tuple[tuple, ...]], ...] = (
    ("gpu-a100-1", A100, 8, {}, (
        ("triton", "triton-resnet50-5c8d9f7b6-k2x9p", "triton", "triton-resnet50", 1, True),
        ("triton", "triton-resnet50-5c8d9f7b6-w7tqm", "triton", "triton-resnet50", 1, True),
        ("triton", "triton-bert-7f6c5d4b9-m4hzn", "triton", "triton-bert", 1, True),
        ("triton", "triton-bert-7f6c5d4b9-r8jvl", "triton", "triton-bert", 1, True),
        ("triton", "triton-bert-7f6c5d4b9-x5pcs", "triton", "triton-bert", 1, True),
        ("triton", "triton-gpt2-6d5b8c7f9-q2wxl", "triton", "triton-gpt2", 1, False),
        ("team-a", "jupyter-notebook-84c9d7b5f-t6gkr", "notebook", "jupyter-notebook", 1,
         True))),
    ("gpu-a100-mig-1", A100, 0, {"mig-1g.10gb": 7}, tuple(
        ("triton", f"triton-densenet-6f9b7c5d8-{s}", "triton", "triton-densenet", 1, True)
        for s in ("b4kxz", "h7qnw", "v2mrt"))),
    ("gpu-h100-1", H100, 8, {}, (
        ("triton", "triton-llama-0", "triton", "triton-llama", 2, True),
        ("triton", "triton-llama-1", "triton", "triton-llama", 2, True),
        ("team-a", "train-llama-f7zt8", "trainer", "train-llama", 2, True))),
)
_FIXED_NODES = (NodeLoad("cp-1", 0.32, 0.45), NodeLoad("cpu-worker-1", 0.41, 0.52),
                NodeLoad("gpu-a100-1", 0.36, 0.14), NodeLoad("gpu-a100-mig-1", 0.45, 0.22),
                NodeLoad("gpu-h100-1", 0.28, 0.2))


def fixed_layout() -> Layout:
    """A layout shaped like the demo GPU cluster, for when there is no demo world."""
    allocator, slots, models = Allocator(), [], []
    for node, model, whole, mig, rows in _FIXED:
        holders = []
        for ns, pod, container, app, n, ready in rows:
            slices = {profile: n for profile in mig}
            holders.append(Holder(f"{ns}/{pod}", ns, pod, container, app,
                                  0 if mig else n, slices, ready))
            if app.startswith("triton-"):
                models.append(ModelPod(app.removeprefix("triton-"), ns, pod, app))
        slots += node_slots(node, model, whole, mig, holders, allocator)
    return Layout(tuple(slots), tuple(sorted(models, key=lambda m: (m.model, m.pod))),
                  _FIXED_NODES)
