"""What the demo clusters hold when they are first built.

Each object is created at the time it would have been in a real cluster's history (nodes
weeks ago, the BERT rollout 45 minutes ago) and the controllers make its pods then, so ages,
events and restart counts read like a cluster that has been running for a while.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlops_tui.backends.demo import objects as o
from mlops_tui.backends.demo import pods as kubelet
from mlops_tui.backends.demo.controllers import WATCHED_KINDS, reconcile
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.render._common import Obj

DAY, HOUR, MIN = 86400.0, 3600.0, 60.0
TRITON = "nvcr.io/nvidia/tritonserver:24.05-py3"
A100, H100 = "NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3"
MIG = "mig-1g.10gb"


@dataclass(frozen=True)
class ContextSpec:
    name: str
    cluster: str
    server: str
    version: str
    build: Callable[[World], None]


def _at(world: World, t: float, kind: str, obj: Obj, owner: Obj | None = None) -> Obj:
    """Create ``obj`` at time ``t`` and let the controllers act on it then."""
    with world.at(t):
        if owner is not None:
            obj["metadata"]["ownerReferences"] = [o.owner_ref(owner)]
        world.create(kind, obj)
        if kind in WATCHED_KINDS:  # else the pass would change nothing: skip its cost
            reconcile(world)
    return obj


def _app(world: World, t: float, kind: str, ns: str, name: str, conts: list[Obj],
         replicas: int = 1, selector: dict[str, str] | None = None,
         tol: tuple[Obj, ...] = (), owner: Obj | None = None) -> Obj:
    tpl = o.template({"app": name}, conts, node_selector=selector, tolerations=tol)
    make = {"deployments": lambda: o.deployment(ns, name, replicas, tpl),
            "statefulsets": lambda: o.statefulset(ns, name, replicas, tpl, name),
            "daemonsets": lambda: o.daemonset(ns, name, tpl),
            "jobs": lambda: o.job(ns, name, tpl)}[kind]
    return _at(world, t, kind, make(), owner)


def _triton(model: str, gpus: int = 1, mig: dict[str, int] | None = None) -> Obj:
    return o.container("triton", TRITON, cpu="4", memory="16Gi", gpus=gpus, mig=mig,
                       ports=(8000, 8001, 8002), args=(
                           "tritonserver", "--model-repository=s3://demo-models/triton",
                           "--model-control-mode=explicit", f"--load-model={model}",
                           "--log-verbose=1"))


def _namespaces(world: World, t: float, names: tuple[str, ...]) -> None:
    for name in names:
        _at(world, t, "namespaces", o.namespace(name))
        _at(world, t, "configmaps", o.configmap(name, "kube-root-ca.crt", {
            "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIDemo...\n-----END CERTIFICATE-----\n"}))


def _static_pods(world: World, t: float, node_name: str) -> None:
    """Control-plane mirror pods: owned by their node, never evicted by a drain."""
    node = world.get("nodes", "", node_name)
    assert node is not None
    for name, image in (("etcd", "registry.k8s.io/etcd:3.5.12-0"),
                        ("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.30.2"),
                        ("kube-controller-manager",
                         "registry.k8s.io/kube-controller-manager:v1.30.2"),
                        ("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.30.2")):
        with world.at(t):
            pod = world.create("pods", {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{name}-{node_name}", "namespace": "kube-system",
                             "labels": {"component": name, "tier": "control-plane"},
                             "annotations": {"kubernetes.io/config.mirror": world.new_uid(),
                                             "kubernetes.io/config.source": "file"},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                  "name": node_name,
                                                  "uid": node["metadata"]["uid"],
                                                  "controller": True}]},
                "spec": {"containers": [o.container(name, image, cpu="250m")],
                         "nodeName": "", "priorityClassName": "system-node-critical",
                         "tolerations": [o.ALL_TOLERATION]},
                "status": {"phase": "Pending", "qosClass": "Burstable"}})
            kubelet.bind(world, pod, node)


def build_gpu_cluster(world: World) -> None:
    t0 = world.time()
    born = t0 - 41 * DAY
    _namespaces(world, born, ("default", "kube-system", "gpu-operator", "triton",
                              "kserve-demo", "team-a", "monitoring"))
    for i, (name, kw) in enumerate((
        ("cp-1", {"role": "control-plane", "cpu": "8", "memory": "32Gi",
                  "instance": "m6i.2xlarge"}),
        ("cpu-worker-1", {"role": "worker", "cpu": "16", "memory": "64Gi",
                          "instance": "m6i.4xlarge"}),
        ("gpu-a100-1", {"role": "worker", "cpu": "96", "memory": "1152Gi", "gpus": 8,
                        "product": A100, "instance": "p4de.24xlarge"}),
        ("gpu-h100-1", {"role": "worker", "cpu": "192", "memory": "2048Gi", "gpus": 8,
                        "product": H100, "instance": "p5.48xlarge"}),
        ("gpu-a100-mig-1", {"role": "worker", "cpu": "32", "memory": "256Gi", "gpus": 0,
                            "product": A100, "mig": {MIG: 7}, "instance": "a2-ultragpu-1g"}),
        ("cpu-worker-2", {"role": "worker", "cpu": "16", "memory": "64Gi", "ready": False,
                          "instance": "m6i.4xlarge"}),
    )):
        _at(world, born + i * HOUR, "nodes", o.node(name, i, **kw))
    cp_tol, gpu_tol = (o.CP_TOLERATION,), (o.GPU_TOLERATION,)
    # kube-system
    _static_pods(world, born, "cp-1")
    _app(world, born, "daemonsets", "kube-system", "kube-proxy", [
        o.container("kube-proxy", "registry.k8s.io/kube-proxy:v1.30.2")],
        tol=(o.ALL_TOLERATION,))
    _app(world, born, "deployments", "kube-system", "coredns", [
        o.container("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", memory="70Mi",
                    ports=(53, 9153))], replicas=2, tol=cp_tol)
    _app(world, born + DAY, "deployments", "kube-system", "metrics-server", [
        o.container("metrics-server", "registry.k8s.io/metrics-server/metrics-server:v0.7.1",
                    memory="200Mi", ports=(10250,))])
    _at(world, born, "services", o.service("kube-system", "kube-dns", {"app": "coredns"},
                                           {"dns": 53, "metrics": 9153}, "10.96.0.10"))
    _at(world, born, "services", o.service("default", "kubernetes", {}, {"https": 443},
                                           "10.96.0.1"))
    # gpu-operator
    ops = born + 2 * DAY
    _app(world, ops, "deployments", "gpu-operator", "gpu-operator", [
        o.container("gpu-operator", "nvcr.io/nvidia/gpu-operator:v24.3.0", memory="350Mi")])
    gpu_nodes = {"nvidia.com/gpu.present": "true"}
    _app(world, ops, "daemonsets", "gpu-operator", "nvidia-device-plugin", [
        o.container("nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin:v0.15.0")],
        selector=gpu_nodes, tol=gpu_tol)
    _app(world, ops, "daemonsets", "gpu-operator", "dcgm-exporter", [
        o.container("dcgm-exporter", "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.5-3.4.1-ubuntu22.04",
                    memory="512Mi", ports=(9400,))], selector=gpu_nodes, tol=gpu_tol)
    _at(world, ops, "services", o.service("gpu-operator", "dcgm-exporter",
                                          {"app": "dcgm-exporter"}, {"metrics": 9400},
                                          "10.96.112.40"))
    # monitoring
    mon = born + 3 * DAY
    _app(world, mon, "statefulsets", "monitoring", "prometheus-k8s", [
        o.container("prometheus", "quay.io/prometheus/prometheus:v2.52.0", cpu="500m",
                    memory="2Gi", ports=(9090,)),
        o.container("config-reloader",
                    "quay.io/prometheus-operator/prometheus-config-reloader:v0.74.0")])
    _app(world, mon, "statefulsets", "monitoring", "alertmanager-main", [
        o.container("alertmanager", "quay.io/prometheus/alertmanager:v0.27.0",
                    ports=(9093,))])
    _app(world, mon, "deployments", "monitoring", "grafana", [
        o.container("grafana", "docker.io/grafana/grafana:10.4.2", memory="256Mi",
                    ports=(3000,))])
    _app(world, mon, "deployments", "monitoring", "kube-state-metrics", [
        o.container("kube-state-metrics",
                    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.12.0",
                    ports=(8080,))])
    for name, port, ip in (("prometheus-k8s", 9090, "10.96.40.11"),
                           ("alertmanager-main", 9093, "10.96.40.12"),
                           ("grafana", 3000, "10.96.40.13")):
        _at(world, mon, "services", o.service("monitoring", name, {"app": name},
                                              {"web": port}, ip))
    _at(world, mon, "persistentvolumeclaims", o.pvc(
        "monitoring", "prometheus-k8s-db-prometheus-k8s-0", "200Gi", "gp3",
        "pvc-3f6c2a1e-41d2-4c1b-9a57-6f0e2d8c9b10"))
    _at(world, mon, "configmaps", o.configmap("monitoring", "prometheus-rules", {
        "gpu.rules.yaml": "groups:\n- name: gpu\n  rules:\n  - alert: GPUHighTemp\n"
                          "    expr: DCGM_FI_DEV_GPU_TEMP > 85\n"}))
    _at(world, mon, "secrets", o.secret("monitoring", "grafana-admin", {
        "admin-user": "grafana-root-7731", "admin-password": "demo-Gr4fana-pass-7731"}))
    _build_serving(world, t0)
    _build_team_a(world, t0)
    _app(world, born + 5 * DAY, "deployments", "default", "hello-mlops", [
        o.container("nginx", "docker.io/nginxinc/nginx-unprivileged:1.25", ports=(8080,))])
    with world.at(t0 - 20 * MIN):
        node = world.get("nodes", "", "cpu-worker-2")
        assert node is not None
        world.event(node, "Normal", "NodeNotReady",
                    "Node cpu-worker-2 status is now: NodeNotReady",
                    component="node-controller")


def _build_serving(world: World, t0: float) -> None:
    triton = t0 - 3 * DAY
    a100, h100 = {"nvidia.com/gpu.product": A100}, {"nvidia.com/gpu.product": H100}
    gpu_tol = (o.GPU_TOLERATION,)
    _app(world, triton, "deployments", "triton", "triton-resnet50", [_triton("resnet50")],
         replicas=2, selector=a100, tol=gpu_tol)
    _app(world, t0 - 45 * MIN, "deployments", "triton", "triton-bert", [_triton("bert-base")],
         replicas=3, selector=a100, tol=gpu_tol)
    world.faults[("triton", "triton-gpt2")] = "crash"
    _app(world, t0 - 3 * HOUR, "deployments", "triton", "triton-gpt2", [_triton("gpt2")],
         selector=a100, tol=gpu_tol)
    with world.at(t0 - 2 * MIN):
        for pod in world.list("pods", "triton"):
            if pod["metadata"]["labels"].get("app") == "triton-gpt2":
                kubelet.crash(world, pod, restarts=37, backoffs=812, since=t0 - 3 * HOUR)
    _app(world, triton, "statefulsets", "triton", "triton-llama", [_triton("llama-3-8b", 2)],
         replicas=2, selector=h100, tol=gpu_tol)
    _app(world, triton, "deployments", "triton", "triton-densenet",
         [_triton("densenet_onnx", 0, {MIG: 1})], replicas=3, tol=gpu_tol)
    _at(world, triton, "services", o.service(
        "triton", "triton-resnet50", {"app": "triton-resnet50"},
        {"http": 8000, "grpc": 8001, "metrics": 8002}, "10.96.201.7", "LoadBalancer",
        "203.0.113.10"))
    for name, ip in (("triton-bert", "10.96.201.8"), ("triton-llama", "10.96.201.9"),
                     ("triton-densenet", "10.96.201.10")):
        _at(world, triton, "services", o.service("triton", name, {"app": name},
                                                 {"http": 8000, "grpc": 8001}, ip))
    _at(world, triton, "persistentvolumeclaims", o.pvc(
        "triton", "model-cache", "500Gi", "gp3", "pvc-8d1e5b7a-2c44-4f0e-b3a9-1d7c6e5f4a21"))
    _at(world, triton, "configmaps", o.configmap("triton", "triton-models", {
        "models.txt": "resnet50\nbert-base\ngpt2\nllama-3-8b\ndensenet_onnx\n"}))
    _at(world, triton, "secrets", o.secret("triton", "triton-s3-credentials", {
        "AWS_ACCESS_KEY_ID": "AKIADEMOKEY7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "demo/S3cr3t+Value/wJalrXUtnFEMI"}))
    # KServe
    ks = t0 - 10 * DAY
    _app(world, ks, "deployments", "kserve-demo", "kserve-controller-manager", [
        o.container("manager", "kserve/kserve-controller:v0.13.0", memory="300Mi")])
    world.serve("inferenceservices")
    iris = _at(world, ks + HOUR, "inferenceservices", o.inference_service(
        "kserve-demo", "sklearn-iris", "sklearn", "gs://kfserving-examples/models/sklearn/1.0/model",
        ready=True))
    _app(world, ks + HOUR, "deployments", "kserve-demo", "sklearn-iris-predictor", [
        o.container("kserve-container", "kserve/sklearnserver:v0.13.0", cpu="1", memory="2Gi",
                    ports=(8080,))], owner=iris)
    _at(world, ks + HOUR, "services", o.service("kserve-demo", "sklearn-iris-predictor",
                                                {"app": "sklearn-iris-predictor"},
                                                {"http": 80}, "10.96.150.3"), owner=iris)
    _at(world, t0 - 25 * MIN, "inferenceservices", o.inference_service(
        "kserve-demo", "llama-chat", "huggingface", "hf://meta-llama/Meta-Llama-3-8B-Instruct",
        ready=False, reason="RevisionMissing", gpus=4,
        message="Revision \"llama-chat-predictor-00001\" failed: 0/6 nodes are available: "
                "Insufficient nvidia.com/gpu."))


def _build_team_a(world: World, t0: float) -> None:
    team = t0 - 14 * DAY
    gpu_tol = (o.GPU_TOLERATION,)
    _app(world, team, "deployments", "team-a", "jupyter-notebook", [
        o.container("notebook", "quay.io/jupyter/pytorch-notebook:cuda12-2024-05-27",
                    cpu="4", memory="32Gi", gpus=1, ports=(8888,))], tol=gpu_tol)
    _app(world, t0 - 5 * HOUR, "jobs", "team-a", "train-llama", [
        o.container("trainer", "nvcr.io/nvidia/pytorch:24.05-py3", cpu="16", memory="128Gi",
                    gpus=2, args=("torchrun", "--nproc-per-node=2", "train.py"))], tol=gpu_tol)
    _app(world, t0 - 12 * MIN, "jobs", "team-a", "llm-finetune", [
        o.container("finetune", "nvcr.io/nvidia/nemo:24.05", cpu="32", memory="256Gi",
                    gpus=4, args=("python", "finetune.py", "--lora"))], tol=gpu_tol)
    tpl = o.template({"app": "data-prep"}, [o.container(
        "prep", "docker.io/library/python:3.11-slim", args=("python", "prep.py"))])
    cron = _at(world, team, "cronjobs", o.cronjob("team-a", "data-prep", "0 */6 * * *", tpl))
    ran = t0 - 110 * MIN
    job = o.job("team-a", "data-prep-28915200", o.template({"app": "data-prep"}, [
        o.container("prep", "docker.io/library/python:3.11-slim", args=("python", "prep.py"))]))
    _at(world, ran, "jobs", job, owner=cron)
    with world.at(ran + 312):
        for pod in world.owned_by("pods", job["metadata"]["uid"]):
            kubelet.complete(world, pod, took=312)
        reconcile(world)
    cron["status"] = {"lastScheduleTime": o.iso(ran), "lastSuccessfulTime": o.iso(ran + 312)}
    world.update("cronjobs", cron)
    for name, size, cls, mode, phase in (
            ("notebook-home", "100Gi", "gp3", "ReadWriteOnce", "Bound"),
            ("datasets", "2Ti", "efs-sc", "ReadWriteMany", "Bound"),
            ("scratch", "500Gi", "local-nvme", "ReadWriteOnce", "Pending")):
        _at(world, team, "persistentvolumeclaims", o.pvc(
            "team-a", name, size, cls, f"pvc-{world.stable_hash(name, 8)}", phase, mode))
    _at(world, team, "configmaps", o.configmap("team-a", "training-config", {
        "config.yaml": "model: meta-llama/Meta-Llama-3-8B\nlr: 2e-5\nepochs: 3\n"}))
    _at(world, team, "secrets", o.secret("team-a", "hf-token", {
        "HF_TOKEN": "hf_demoTokenValue9f8e7d6c5b4a"}))


def build_edge(world: World) -> None:
    t0 = world.time()
    born = t0 - 9 * DAY
    _namespaces(world, born, ("default", "kube-system", "edge-apps"))
    for i, name in enumerate(("edge-1", "edge-2")):
        _at(world, born, "nodes", o.node(name, i, role="master" if i == 0 else "worker",
                                         cpu="4", memory="8Gi", kubelet="v1.29.4+k3s1",
                                         instance="raspberrypi-5"))
    for name, image in (("coredns", "rancher/mirrored-coredns-coredns:1.10.1"),
                        ("traefik", "rancher/mirrored-library-traefik:2.10.7"),
                        ("local-path-provisioner",
                         "rancher/local-path-provisioner:v0.0.26"),
                        ("metrics-server", "rancher/mirrored-metrics-server:v0.7.0")):
        _app(world, born, "deployments", "kube-system", name, [o.container(name, image)])
    _app(world, t0 - 2 * DAY, "deployments", "edge-apps", "edge-detector", [
        o.container("detector", "ghcr.io/demo/onnx-yolov8n-cpu:1.4.0", cpu="1",
                    memory="1Gi", ports=(8080,))], replicas=2)
    _at(world, t0 - 2 * DAY, "services", o.service(
        "edge-apps", "edge-detector", {"app": "edge-detector"}, {"http": 8080}, "10.43.8.20"))
    _at(world, born, "secrets", o.secret("edge-apps", "registry-credentials", {
        ".dockerconfigjson": '{"auths":{"ghcr.io":{"auth":"ZGVtbzpkZW1vLWVkZ2UtdG9rZW4="}}}'},
        "kubernetes.io/dockerconfigjson"))


CONTEXTS: dict[str, ContextSpec] = {
    spec.name: spec for spec in (
        ContextSpec("demo-gpu-cluster", "demo-gpu-cluster", "https://demo.local:6443",
                    "v1.30.2 (demo)", build_gpu_cluster),
        ContextSpec("demo-edge", "demo-edge", "https://edge.demo.local:6443",
                    "v1.29.4+k3s1 (demo)", build_edge),
    )
}


def build(world: World, spec: ContextSpec) -> None:
    """Fill an empty world with a context's history, every pod started at once."""
    instant, world.instant = world.instant, True
    try:
        with world.lock:
            spec.build(world)
            world.prune_events()
    finally:
        world.instant = instant
