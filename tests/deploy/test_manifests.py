"""The manifests built for a deploy spec: what each source, runtime and resource setting puts
where, that no credential is ever literal, and that the real 1.20 apiserver accepts them."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_tui.backends.deploy.manifests import (
    MAX_CONFIGMAP_BYTES,
    REPOSITORY_HASH,
    ClusterFeatures,
    build_manifests,
)
from mlops_tui.backends.deploy.repository import read_repository
from mlops_tui.backends.deploy.spec import DeploySpec

FILES = {"resnet/config.pbtxt": b'name: "resnet"\nplatform: "onnxruntime_onnx"\n',
         "resnet/1/model.onnx": b"\x08\x07\x12\xff\xfe binary",
         "labels.txt": "caf\u00e9\n".encode()}
BASE = {"name": "resnet", "namespace": "ml"}


def build(features: ClusterFeatures | None = None, files: dict | None = None,
          **fields) -> dict[str, dict]:
    spec = DeploySpec(**{**BASE, "model_repository": "./models", **fields})
    found = build_manifests(spec, features or ClusterFeatures(),
                            repository_files=FILES if files is None else files)
    return {m["kind"]: m for m in found}


def pod_of(objects: dict[str, dict]) -> dict:
    return objects["Deployment"]["spec"]["template"]["spec"]


def container_of(objects: dict[str, dict]) -> dict:
    [container] = pod_of(objects)["containers"]
    return container


def test_local_repository_deployment_shape():
    objects = build()
    assert list(objects) == ["ConfigMap", "Deployment", "Service"]
    deployment = objects["Deployment"]
    labels = {"app.kubernetes.io/name": "resnet", "app.kubernetes.io/managed-by": "mlops-tui"}
    assert deployment["metadata"] == {"name": "resnet", "namespace": "ml", "labels": labels}
    assert deployment["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name":
                                                              "resnet"}}
    template = deployment["spec"]["template"]["metadata"]
    assert template["labels"] == labels
    assert {k: v for k, v in template["annotations"].items() if k.startswith("prometheus")} \
        == {"prometheus.io/scrape": "true", "prometheus.io/port": "8002",
            "prometheus.io/path": "/metrics"}
    container = container_of(objects)
    assert container["name"] == "tritonserver"
    assert container["args"] == ["tritonserver", "--model-repository=/models",
                                 "--metrics-port", "8002"]
    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [
        ("http", 8000), ("grpc", 8001), ("metrics", 8002)]
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready",
                                                      "port": "http"}
    assert container["startupProbe"]["periodSeconds"] * \
        container["startupProbe"]["failureThreshold"] == 600
    assert "resources" not in container and "tolerations" not in pod_of(objects)
    service = objects["Service"]["spec"]
    assert service["selector"] == {"app.kubernetes.io/name": "resnet"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["ports"]] == [
        ("http", 8000, "http"), ("grpc", 8001, "grpc"), ("metrics", 8002, "metrics")]
    assert service["type"] == "ClusterIP"


def test_the_configmap_holds_every_file_and_the_volume_puts_it_back():
    objects = build()
    config = objects["ConfigMap"]
    assert config["metadata"]["name"] == "resnet-models"
    volume = next(v for v in pod_of(objects)["volumes"] if v["name"] == "model-files")
    paths = {item["path"]: item["key"] for item in volume["configMap"]["items"]}
    assert set(paths) == set(FILES)
    assert all("/" not in key for key in paths.values())
    assert config["data"][paths["resnet/config.pbtxt"]] == FILES["resnet/config.pbtxt"].decode()
    assert config["data"][paths["labels.txt"]] == "caf\u00e9\n"
    assert base64.b64decode(config["binaryData"][paths["resnet/1/model.onnx"]]) == \
        FILES["resnet/1/model.onnx"]
    [init] = pod_of(objects)["initContainers"]
    assert init["image"] == "busybox:1.36"
    assert init["command"][:3] == ["sh", "-c", 'cp -rL -- "$@" /models/']
    assert init["command"][4:] == ["/repository/labels.txt", "/repository/resnet"]


@pytest.mark.parametrize("tools", ["host", "busybox"])
def test_the_init_containers_copy_leaves_the_kubelets_symlink_dirs_behind(tmp_path: Path,
                                                                         tools: str):
    """The kubelet's ConfigMap layout (a timestamped dir, ``..data`` linking to it, each
    top-level entry a link through ``..data``), copied by the init container's own command,
    with the host's sh and cp and with busybox's (what the init image runs)."""
    env = None
    if tools == "busybox":
        busybox = shutil.which("busybox")
        if busybox is None:
            pytest.skip("busybox is not installed")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for applet in ("sh", "cp"):
            (bin_dir / applet).symlink_to(busybox)
        env = {"PATH": str(bin_dir)}
    objects = build()
    volume = tmp_path / "repository"
    stamped = volume / "..2026_12_02_10_00_00.123"
    volume.mkdir()
    for item in next(v for v in pod_of(objects)["volumes"]
                     if v["name"] == "model-files")["configMap"]["items"]:
        target = stamped / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(FILES[item["path"]])
    os.symlink(stamped.name, volume / "..data")
    for top in ("resnet", "labels.txt"):
        os.symlink(f"..data/{top}", volume / top)
    models = tmp_path / "models"
    models.mkdir()
    [init] = pod_of(objects)["initContainers"]
    command = [part.replace("/repository", str(volume)).replace("/models/", f"{models}/")
               for part in init["command"]]
    subprocess.run(command, check=True, timeout=30, env=env)
    copied = read_repository(models)
    assert copied == FILES
    assert not any(p.is_symlink() for p in models.rglob("*"))


def test_a_changed_file_changes_the_pod_template():
    first = build()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    changed = {**FILES, "resnet/config.pbtxt": b'name: "resnet"\nmax_batch_size: 8\n'}
    second = build(files=changed)["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    renamed = {("resnet/2/model.onnx" if k == "resnet/1/model.onnx" else k): v
               for k, v in FILES.items()}
    third = build(files=renamed)["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert len({first[REPOSITORY_HASH], second[REPOSITORY_HASH], third[REPOSITORY_HASH]}) == 3
    assert build()["Deployment"] == build()["Deployment"]  # the same files: the same template


def test_a_local_repository_needs_its_files_and_must_fit_a_configmap():
    with pytest.raises(ValueError, match="its files must be given"):
        build_manifests(DeploySpec(**BASE, model_repository="./models"), ClusterFeatures())
    with pytest.raises(ValueError, match="holds no files"):
        build(files={})
    big = {"model.bin": b"\xff" * (MAX_CONFIGMAP_BYTES * 4 // 5)}  # base64 grows it past
    with pytest.raises(ValueError, match=r"use a PVC \(pvc://CLAIM/PATH\) or s3://BUCKET/PATH"):
        build(files=big)
    for path in ("../escape", "/abs", "a//b", "..hidden/x", "a/./b"):
        with pytest.raises(ValueError, match="model repository file"):
            build(files={path: b"x"})


def test_read_repository_skips_links_and_stops_when_too_big(tmp_path: Path):
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "config.pbtxt").write_text('name: "m"')
    (tmp_path / "m" / "1" / "model.py").write_text("pass\n")
    (tmp_path / "m" / "leak").symlink_to("/etc/hostname")
    assert read_repository(tmp_path) == {"m/config.pbtxt": b'name: "m"',
                                         "m/1/model.py": b"pass\n"}
    (tmp_path / "m" / "1" / "big.bin").write_bytes(b"0" * (MAX_CONFIGMAP_BYTES + 1))
    with pytest.raises(ValueError, match="larger than a ConfigMap holds"):
        read_repository(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        read_repository(tmp_path / "nothing")


def test_pvc_repository_with_the_claim_created():
    objects = build(model_repository="pvc://model-store/triton/resnet", pvc_size="50Gi",
                    storage_class="fast-ssd")
    assert list(objects) == ["PersistentVolumeClaim", "Deployment", "Service"]
    claim = objects["PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "model-store"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd",
                             "resources": {"requests": {"storage": "50Gi"}}}
    pod = pod_of(objects)
    assert pod["volumes"] == [{"name": "models", "persistentVolumeClaim": {
        "claimName": "model-store", "readOnly": True}}]
    assert "initContainers" not in pod
    assert container_of(objects)["args"][1] == "--model-repository=/mnt/models/triton/resnet"
    assert container_of(objects)["volumeMounts"] == [
        {"name": "models", "mountPath": "/mnt/models", "readOnly": True}]
    assert REPOSITORY_HASH not in objects["Deployment"]["spec"]["template"]["metadata"][
        "annotations"]
    assert "PersistentVolumeClaim" not in build(model_repository="pvc://model-store")


def test_s3_credentials_are_only_ever_secret_references():
    objects = build(model_repository="s3://minio.local:9000/models/triton",
                    s3_secret="aws-creds", s3_region="eu-west-1")
    container = container_of(objects)
    assert container["args"][1] == "--model-repository=s3://minio.local:9000/models/triton"
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {
        "name": "aws-creds", "key": "AWS_ACCESS_KEY_ID"}}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "aws-creds"
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["AWS_DEFAULT_REGION"] == {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"}
    assert [e for e in container["env"] if "value" in e] == [env["AWS_DEFAULT_REGION"]]
    assert "volumes" not in pod_of(objects) and "volumeMounts" not in container
    no_secret = container_of(build(model_repository="s3://models-bucket/triton"))
    assert "env" not in no_secret


def test_gpus_resources_and_node_placement():
    objects = build(gpus=2, cpu="4", memory="16Gi", node_selector={"gpu": "a100"},
                    tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml",
                                  "effect": "NoSchedule"}])
    assert container_of(objects)["resources"] == {
        "requests": {"cpu": "4", "memory": "16Gi"},
        "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"}}
    pod = pod_of(objects)
    assert pod["nodeSelector"] == {"gpu": "a100"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    cpu_only = build(memory="1Gi")
    assert container_of(cpu_only)["resources"] == {"requests": {"memory": "1Gi"},
                                                   "limits": {"memory": "1Gi"}}


def test_options_reach_the_server_arguments_and_the_pod():
    objects = build(strict_model_config=False, extra_args=["--log-verbose=1"],
                    image_pull_policy="IfNotPresent", startup_timeout_s=95, replicas=3,
                    service_type="NodePort", labels={"team": "vision"})
    container = container_of(objects)
    assert container["args"] == ["tritonserver", "--model-repository=/models",
                                 "--strict-model-config=false", "--metrics-port", "8002",
                                 "--log-verbose=1"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert pod_of(objects)["initContainers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert container["startupProbe"]["failureThreshold"] == 10  # 95 s in 10 s periods
    assert objects["Deployment"]["spec"]["replicas"] == 3
    assert objects["Service"]["spec"]["type"] == "NodePort"
    assert all(o["metadata"]["labels"]["team"] == "vision" for o in objects.values())
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "resnet"}


def test_service_monitor_only_when_the_cluster_has_the_operator():
    assert "ServiceMonitor" not in build()
    monitor = build(ClusterFeatures(service_monitor=True))["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "resnet"}}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics",
                                             "interval": "15s"}]


KSERVE = ClusterFeatures(inference_service=True)


def test_kserve_inference_service():
    objects = build(KSERVE, runtime="kserve", model_repository="s3://models-bucket/resnet",
                    s3_secret="aws-creds", replicas=2, gpus=1, memory="8Gi",
                    strict_model_config=False)
    assert list(objects) == ["ServiceAccount", "InferenceService"]
    account = objects["ServiceAccount"]
    assert account["metadata"]["name"] == "resnet-s3"
    assert account["secrets"] == [{"name": "aws-creds"}]
    inference = objects["InferenceService"]
    assert inference["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = inference["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "resnet-s3"
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 2)
    assert predictor["model"]["modelFormat"] == {"name": "triton"}
    assert predictor["model"]["storageUri"] == "s3://models-bucket/resnet"
    assert predictor["model"]["runtimeVersion"] == "24.10-py3"
    assert predictor["model"]["args"] == ["--strict-model-config=false"]
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert predictor["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                         "effect": "NoSchedule"}]
    pvc = build(KSERVE, runtime="kserve", model_repository="pvc://store/resnet",
                pvc_size="10Gi")
    assert list(pvc) == ["PersistentVolumeClaim", "InferenceService"]
    assert pvc["InferenceService"]["spec"]["predictor"]["model"]["storageUri"] == \
        "pvc://store/resnet"
    assert "serviceAccountName" not in pvc["InferenceService"]["spec"]["predictor"]


@pytest.mark.parametrize(("features", "fields", "message"), [
    (ClusterFeatures(), {"model_repository": "pvc://store/r"},
     "the cluster serves no InferenceService (serving.kserve.io/v1beta1): install KServe"),
    (KSERVE, {}, "runtime kserve cannot serve the local directory './models'"),
    (KSERVE, {"model_repository": "s3://minio:9000/bkt/r"},
     "serving.kserve.io/s3-endpoint annotation"),
    (KSERVE, {"model_repository": "pvc://store/r", "image": "example.com/my-triton"},
     "is not tritonserver:TAG"),
])
def test_kserve_refusals(features, fields, message):
    with pytest.raises(ValueError) as err:
        build(features, runtime="kserve", **fields)
    assert message in str(err.value)


def every_variant() -> list[dict]:
    """One of each object kind and option, for the schema and server checks."""
    both = ClusterFeatures(service_monitor=True, inference_service=True)
    variants = [
        build(both, gpus=1, cpu="500m", memory="2Gi", node_selector={"gpu": "t4"},
              tolerations=[{"key": "spot", "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": 30}],
              image_pull_policy="Always", strict_model_config=False, labels={"team": "x"}),
        build(both, model_repository="pvc://store/a", pvc_size="1Gi", storage_class="standard",
              replicas=3, service_type="LoadBalancer"),
        build(both, model_repository="s3://bucket-a/p", s3_secret="creds", s3_region="us-east-1",
              replicas=0, service_type="NodePort"),
        build(both, runtime="kserve", model_repository="s3://bucket-a/p", s3_secret="creds"),
    ]
    return [m for objects in variants for m in objects.values()]


def test_every_manifest_passes_the_schema():
    from mlops_tui.backends.deploy.schema import schema_errors, schema_note

    checked = 0
    for manifest in every_variant():
        assert schema_errors(manifest, "1.20") == [], json.dumps(manifest)[:300]
        note = schema_note(manifest, "1.20")
        if manifest["kind"] in ("ServiceMonitor", "InferenceService"):
            assert note and "not checked" in note
        else:
            assert note is None
            checked += 1
    assert checked == 9


@pytest.mark.apiserver
def test_the_real_apiserver_accepts_every_core_manifest(control_plane, fresh_namespace,
                                                         admin_api):
    """Server-side dry-run creates on v1.20.2: its own validation, not a schema's."""
    pool, host = admin_api.rest_client.pool_manager, admin_api.configuration.host
    plural = {"Deployment": "/apis/apps/v1/namespaces/{}/deployments",
              "Service": "/api/v1/namespaces/{}/services",
              "ConfigMap": "/api/v1/namespaces/{}/configmaps",
              "PersistentVolumeClaim": "/api/v1/namespaces/{}/persistentvolumeclaims",
              "ServiceAccount": "/api/v1/namespaces/{}/serviceaccounts"}
    sent = 0
    for manifest in every_variant():
        if manifest["kind"] not in plural:
            continue  # custom resources: the test server has no CRDs
        manifest["metadata"]["namespace"] = fresh_namespace
        resp = pool.request("POST", host + plural[manifest["kind"]].format(fresh_namespace)
                            + "?dryRun=All", body=json.dumps(manifest).encode(),
                            headers={"Content-Type": "application/json",
                                     "Accept": "application/json"})
        assert resp.status == 201, (manifest["kind"], resp.data[:400])
        sent += 1
    assert sent == 9
