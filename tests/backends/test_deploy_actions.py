"""check_repository, deploy, undeploy and rollback through the Kubernetes backend against the
real apiserver (with its scheduler and controller-manager), and infer / loadtest against a
real bare tritonserver by URL.

The nodes here are fake (no kubelet runs their pods): what can be seen is what the control
plane does, which is what these tests check: the server's dry run and diff, the objects
applied and deleted, the scheduler's verdict on GPUs, the ReplicaSets a rollback reads.
The whole loop with pods that really run is tests/backends/test_model_loop_real_node.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, Failure, execute
from tests.backends.conftest import wait_for
from tests.servers.moto import moto_server
from tests.servers.triton import BROKEN_MODEL, DEFAULT_MODELS, write_model_repository

IMAGE = "localhost/mlops-tui-test/tritonserver:2.51"


def run(backend, action: str, namespace: str = "", workdir: Path | None = None,
        **args) -> list:
    """Every event of one action, as the script runner and the TUI get them."""
    spec = ACTIONS[action]
    request = spec.request.model_validate(args)
    ctx = ActionContext(backend, namespace=namespace, workdir=workdir)

    async def collect() -> list:
        return [event async for event in execute(spec, ctx, request)]
    return asyncio.run(collect())


def last(events: list):
    assert events[-1].kind in (EventKind.OK, EventKind.FAILED), events
    return events[-1]


def lines(events: list, kind: EventKind = EventKind.OUTPUT) -> list[str]:
    return [e.message for e in events if e.kind == kind]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_model_repository(tmp_path / "model_repository", DEFAULT_MODELS)


def deploy_args(**extra) -> dict:
    return {"name": "resnet", "model_repository": "model_repository", "image": IMAGE,
            "image_pull_policy": "Never", "replicas": 1, "gpus": 0, **extra}


# -- check_repository ------------------------------------------------------------------


@pytest.mark.apiserver
def test_check_repository_local_lists_models_and_problems(make_backend, tmp_path, repo):
    backend = make_backend()
    good = run(backend, "check_repository", workdir=tmp_path, path="model_repository")
    assert last(good).kind == EventKind.OK, good
    assert last(good).data["models"] == ["bert (python, version 1)",
                                         "resnet50 (python, version 1)"]

    (repo / "resnet50" / "1" / "model.py").unlink()
    (repo / "bert" / "config.pbtxt").write_text("name: 'bert'\nmax_batch_size: -3\n")
    (repo / "extra").mkdir()
    bad = run(backend, "check_repository", workdir=tmp_path, path="model_repository")
    end = last(bad)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK)
    problems = lines(bad)
    assert len(problems) == len(end.data["problems"]) >= 3, problems
    assert all("\n" not in p for p in problems)
    assert any(p.startswith("resnet50/1") for p in problems), problems
    assert end.message.startswith("model repository ") and "problems" in end.message


@pytest.mark.apiserver
def test_check_repository_claim_must_exist_and_be_bound(make_backend, fresh_namespace,
                                                        admin_api):
    backend = make_backend()
    missing = run(backend, "check_repository", fresh_namespace, path="pvc://models/repo")
    assert last(missing).failure == Failure.CHECK
    assert lines(missing) == [f"pvc://models/repo: claim 'models' does not exist in "
                              f"namespace {fresh_namespace}"]

    from kubernetes import client as k8s
    core = k8s.CoreV1Api(admin_api)
    claim = {"metadata": {"name": "models"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
        "resources": {"requests": {"storage": "1Gi"}}}}
    core.create_namespaced_persistent_volume_claim(fresh_namespace, claim)
    pending = run(backend, "check_repository", fresh_namespace, path="pvc://models/repo")
    assert "claim 'models' is Pending, not Bound" in lines(pending)[0]

    volume = f"pv-{fresh_namespace}"
    core.create_persistent_volume({"metadata": {"name": volume}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "storageClassName": "manual", "hostPath": {"path": "/tmp/unused"},
        "claimRef": {"namespace": fresh_namespace, "name": "models"}}})
    try:
        wait_for(lambda: core.read_namespaced_persistent_volume_claim(
            "models", fresh_namespace).status.phase == "Bound", 30, "the claim to bind")
        bound = run(backend, "check_repository", fresh_namespace, path="pvc://models/repo")
        assert last(bound).kind == EventKind.OK, bound
        assert "cannot be read from here" in lines(bound, EventKind.WARNING)[0]
    finally:
        core.delete_persistent_volume(volume)


def test_check_repository_bad_source_is_an_environment_error():
    from mlops_tui.backends.demo import DemoBackend

    events = run(DemoBackend(), "check_repository", path="ftp://host/repo")
    assert last(events).failure == Failure.ENVIRONMENT
    assert "ftp:// is not supported" in last(events).message


# -- deploy ----------------------------------------------------------------------------


@pytest.mark.apiserver
def test_deploy_dry_run_gives_manifests_and_diff_and_changes_nothing(
        make_backend, fresh_namespace, tmp_path, repo, admin_api):
    from kubernetes import client as k8s

    backend = make_backend()
    events = run(backend, "deploy", fresh_namespace, tmp_path, **deploy_args(dry_run=True))
    end = last(events)
    assert end.kind == EventKind.OK, events
    kinds = [m["kind"] for m in end.data["manifests"]]
    assert {"ConfigMap", "Deployment", "Service"} <= set(kinds), kinds
    assert all(m["metadata"]["namespace"] == fresh_namespace for m in end.data["manifests"])
    assert "+++ merged/deployment.apps/resnet" in end.data["diff"]
    assert "--model-repository" in "\n".join(lines(events))  # the YAML is in the output
    json.dumps(end.data)  # the preview step and -o json take it as it is
    with pytest.raises(ApiException) as info:
        k8s.AppsV1Api(admin_api).read_namespaced_deployment("resnet", fresh_namespace)
    assert info.value.status == 404


@pytest.mark.apiserver
def test_deploy_applies_then_a_second_run_changes_nothing_and_undeploy_removes_it(
        make_backend, fresh_namespace, tmp_path, repo, admin_api):
    from kubernetes import client as k8s

    backend = make_backend()
    first = run(backend, "deploy", fresh_namespace, tmp_path, **deploy_args(wait=False))
    assert last(first).kind == EventKind.OK, first
    results = {o["kind"]: o["result"] for o in last(first).data["objects"]}
    assert results == {"ConfigMap": "created", "Deployment": "created", "Service": "created"}
    dep = k8s.AppsV1Api(admin_api).read_namespaced_deployment("resnet", fresh_namespace)
    assert dep.spec.template.spec.containers[0].image == IMAGE

    again = run(backend, "deploy", fresh_namespace, tmp_path, **deploy_args(dry_run=True))
    assert last(again).data["diff"] == ""

    gone = run(backend, "undeploy", fresh_namespace, name="resnet")
    assert last(gone).kind == EventKind.OK
    assert sorted(o["kind"] for o in last(gone).data) == ["ConfigMap", "Deployment", "Service"]
    core = k8s.CoreV1Api(admin_api)
    assert core.list_namespaced_config_map(
        fresh_namespace, label_selector="app.kubernetes.io/name=resnet").items == []
    nothing = run(backend, "undeploy", fresh_namespace, name="resnet")
    assert last(nothing).kind == EventKind.OK and lines(nothing, EventKind.WARNING)


@pytest.mark.apiserver
def test_deploy_refuses_a_repository_with_problems_before_anything_is_built(
        make_backend, fresh_namespace, tmp_path, repo):
    write_model_repository(repo, [BROKEN_MODEL])
    (repo / "broken" / "1" / "model.py").unlink()
    (repo / "bert" / "config.pbtxt").write_text("name: 'bert'\nbackend: 'python'\n"
                                                "input [ { name: 'X' dims: [ 0 ] } ]\n")
    events = run(make_backend(), "deploy", fresh_namespace, tmp_path, **deploy_args())
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK)
    assert len(lines(events)) == len(end.data["problems"]) >= 2
    assert not any(e.kind == EventKind.PROGRESS for e in events[1:])


@pytest.mark.apiserver
def test_schema_errors_fail_as_a_check_one_line_each(make_backend, fresh_namespace, tmp_path,
                                                     repo, monkeypatch):
    """The manifests deploy builds are always valid (tests/deploy checks them): a mock
    build_manifests stands in for a broken one, the one case a real spec cannot make."""
    import mlops_tui.backends.deploy.manifests as built

    def broken(*args, **kwargs):
        return [{"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "resnet", "namespace": fresh_namespace},
                 "spec": {"replicas": "two", "selector": {}, "template": {}}}]
    monkeypatch.setattr(built, "build_manifests", broken)
    events = run(make_backend(), "deploy", fresh_namespace, tmp_path, **deploy_args())
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), events
    assert "schema error" in end.message
    assert any("spec.replicas" in line for line in lines(events)), lines(events)


@pytest.mark.apiserver
def test_readonly_refuses_deploy_but_allows_its_dry_run(make_backend, fresh_namespace,
                                                        tmp_path, repo):
    backend = make_backend(readonly=True)
    refused = run(backend, "deploy", fresh_namespace, tmp_path, **deploy_args())
    assert last(refused).failure == Failure.ENVIRONMENT and "read-only" in last(refused).message
    assert last(run(backend, "deploy", fresh_namespace, tmp_path,
                    **deploy_args(dry_run=True))).kind == EventKind.OK
    for action in ("undeploy", "rollback"):
        end = last(run(backend, action, fresh_namespace, name="resnet"))
        assert end.failure == Failure.ENVIRONMENT and "read-only" in end.message


# -- the verdict on fake GPU nodes -----------------------------------------------------


@pytest.mark.apiserver
def test_more_gpus_than_any_node_has_is_a_terminal_verdict(make_backend, fresh_namespace,
                                                           tmp_path, repo, control_plane):
    control_plane.add_node(f"gpu-{secrets.token_hex(3)}", gpus=2)
    started = time.monotonic()
    events = run(make_backend(), "deploy", fresh_namespace, tmp_path,
                 **deploy_args(gpus=16, timeout="150s"))
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), events
    assert "Insufficient nvidia.com/gpu" in end.message, end.message
    assert end.data["state"] == "Failed"
    # terminal once no node has fitted for the verdict's grace (a node may be joining),
    # not at the timeout
    assert time.monotonic() - started < 140
    assert any("Insufficient nvidia.com/gpu" in e.message for e in events
               if e.kind == EventKind.PROGRESS), "the reason is shown while it waits"


@pytest.mark.apiserver
def test_pending_on_a_node_with_enough_gpus_is_not_a_failure(make_backend, fresh_namespace,
                                                             tmp_path, repo, control_plane):
    node = f"gpu-{secrets.token_hex(3)}"
    control_plane.add_node(node, gpus=2, labels={"mlops-tui.test/pool": node})
    events = run(make_backend(), "deploy", fresh_namespace, tmp_path,
                 **deploy_args(gpus=1, node_selector={"mlops-tui.test/pool": node},
                               timeout="8s"))
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), events
    assert end.message.startswith("timed out after 8s"), end.message
    assert "Insufficient" not in end.message
    assert end.data["state"] == "Progressing"


# -- rollback ---------------------------------------------------------------------------


@pytest.mark.apiserver
def test_rollback_restores_the_previous_template(make_backend, fresh_namespace, tmp_path,
                                                 repo, admin_api):
    from kubernetes import client as k8s

    apps = k8s.AppsV1Api(admin_api)
    backend = make_backend()

    def revisions() -> int:
        return len(apps.list_namespaced_replica_set(fresh_namespace).items)
    assert last(run(backend, "deploy", fresh_namespace, tmp_path,
                    **deploy_args(wait=False))).kind == EventKind.OK
    wait_for(lambda: revisions() == 1, 30, "the first ReplicaSet")
    other = IMAGE.replace(":2.51", ":2.52")
    assert last(run(backend, "deploy", fresh_namespace, tmp_path,
                    **deploy_args(wait=False, image=other))).kind == EventKind.OK
    wait_for(lambda: revisions() == 2, 30, "the second ReplicaSet")

    events = run(backend, "rollback", fresh_namespace, name="resnet", wait=False)
    assert last(events).kind == EventKind.OK, events
    assert "revision 1" in lines(events, EventKind.PROGRESS)[0]
    dep = apps.read_namespaced_deployment("resnet", fresh_namespace)
    assert dep.spec.template.spec.containers[0].image == IMAGE
    assert dep.spec.replicas == 1 and dep.spec.selector.match_labels

    unknown = run(backend, "rollback", fresh_namespace, name="resnet", revision=99)
    assert last(unknown).failure == Failure.CHECK
    missing = run(backend, "rollback", fresh_namespace, name="nothing")
    assert "does not exist" in last(missing).message


# -- infer / loadtest by URL against the real tritonserver ---------------------------------


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_infer_by_url_shows_each_output_and_the_latency(triton_server, protocol):
    from mlops_tui.backends.demo import DemoBackend

    url = triton_server.http_url if protocol == "http" else triton_server.grpc_address
    events = run(DemoBackend(), "infer", url=url, model="resnet50", protocol=protocol,
                 inputs="zeros")
    end = last(events)
    assert end.kind == EventKind.OK, events
    out = end.data["outputs"]
    assert [(o["name"], o["datatype"], o["shape"]) for o in out] == [
        ("OUTPUT__0", "FP32", [1, 4])]
    assert lines(events)[-1].startswith("latency ")
    assert end.data["latency_ms"] > 0


def test_infer_with_an_input_file_of_the_wrong_shape_is_one_clear_line(triton_server,
                                                                       tmp_path):
    from mlops_tui.backends.demo import DemoBackend

    (tmp_path / "in.json").write_text(json.dumps({"INPUT__0": [[1, 2, 3]]}))
    events = run(DemoBackend(), "infer", workdir=tmp_path, url=triton_server.http_url,
                 model="resnet50", protocol="http", inputs="in.json")
    end = last(events)
    assert end.failure == Failure.ENVIRONMENT and "\n" not in end.message
    assert "INPUT__0" in end.message


def test_loadtest_by_url_gives_a_row_per_step_and_saves_results(triton_server, tmp_path):
    from mlops_tui.backends.demo import DemoBackend

    events = run(DemoBackend(), "loadtest", workdir=tmp_path, url=triton_server.grpc_address,
                 model="resnet50", protocol="grpc", concurrency=[1, 2], duration="1s",
                 warmup=0, output="results.json")
    end = last(events)
    assert end.kind == EventKind.OK, events
    steps = end.data["steps"]
    assert [s["level"] for s in steps] == [1, 2]
    assert all(s["requests"] > 0 and s["p50_ms"] <= s["p99_ms"] for s in steps)
    fractions = [e.fraction for e in events if e.kind == EventKind.PROGRESS
                 and e.fraction is not None]
    assert fractions and all(0 <= f <= 1 for f in fractions)
    assert fractions == sorted(fractions)
    assert {Path(f).suffix for f in end.data["files"]} == {".json", ".csv"}
    assert all(Path(f).parent == tmp_path for f in end.data["files"])


def test_a_backend_without_port_forward_says_to_give_url():
    from mlops_tui.backends.demo import DemoBackend

    events = run(DemoBackend(), "infer", name="resnet", model="resnet50")
    end = last(events)
    assert end.failure == Failure.ENVIRONMENT
    assert "cannot port-forward" in end.message and "url" in end.message


# -- check_repository on S3 (a real moto server on 127.0.0.1) ---------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 (its URL) with a good and a broken repository."""
    import boto3

    with moto_server() as url:
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket="models")
        for prefix, models in (("good", DEFAULT_MODELS), ("broken", [BROKEN_MODEL])):
            for model in models:
                client.put_object(Bucket="models", Key=f"{prefix}/{model.name}/config.pbtxt",
                                  Body=model.config_pbtxt().encode())
                if prefix == "good":
                    client.put_object(Bucket="models", Key=f"{prefix}/{model.name}/1/model.py",
                                      Body=model.model_py().encode())
        yield url


@pytest.fixture
def aws_env(monkeypatch):
    """Dummy credentials, and no other source of any: no file, no instance metadata."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_check_repository_on_s3(s3_endpoint, aws_env):
    from mlops_tui.backends.demo import DemoBackend

    aws_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    good = run(DemoBackend(), "check_repository", path="s3://models/good",
               endpoint_url=s3_endpoint)
    assert last(good).kind == EventKind.OK, good
    assert last(good).data["models"] == ["bert (python, version 1)",
                                         "resnet50 (python, version 1)"]
    # the endpoint inside the URI, as Triton takes it
    host = s3_endpoint.removeprefix("http://")
    inline = run(DemoBackend(), "check_repository", path=f"s3://{host}/models/good")
    assert last(inline).kind == EventKind.OK, inline

    broken = run(DemoBackend(), "check_repository", path="s3://models/broken",
                 endpoint_url=s3_endpoint)
    assert last(broken).failure == Failure.CHECK
    assert lines(broken) == ["broken: no version folder (e.g. 1/)"]
    text = " ".join(e.message for e in good + broken)
    assert "testing-secret" not in text


def test_check_repository_on_s3_without_credentials_is_an_environment_error(s3_endpoint,
                                                                            aws_env):
    from mlops_tui.backends.demo import DemoBackend

    events = run(DemoBackend(), "check_repository", path="s3://models/good",
                 endpoint_url=s3_endpoint)
    assert last(events).failure == Failure.ENVIRONMENT, events
    assert "credentials" in last(events).message


# -- reach: how an action names a server ---------------------------------------------------


@pytest.mark.parametrize(("url", "protocol", "address", "ssl"), [
    ("127.0.0.1:8001", "grpc", "127.0.0.1:8001", False),
    (" http://triton.local:8000/ ", "http", "triton.local:8000", False),
    ("https://triton.local:8443", "http", "triton.local:8443", True),
    ("grpcs://triton.local:443", "grpc", "triton.local:443", True),
    ("[::1]:8000", "http", "[::1]:8000", False),
])
def test_a_url_names_the_server(url, protocol, address, ssl):
    from mlops_tui.backends.actions.reach import parse_url

    endpoint = parse_url(url, protocol)
    assert (endpoint.address, endpoint.protocol, endpoint.ssl) == (address, protocol, ssl)


@pytest.mark.parametrize(("url", "protocol", "says"), [
    ("grpc://h:8001", "http", "is a grpc address, but protocol is http"),
    ("ftp://h:21", "http", "the scheme must be one of"),
    ("triton.local", "grpc", "give host:port, e.g. 127.0.0.1:8001"),
    ("http://h:8000/v2/models", "http", "give host:port"),
    ("h:99999", "http", "give host:port"),
    ("http://admin:s3cret@h:8000", "http", "a user or password in the URL is not supported"),
])
def test_a_bad_url_is_one_clear_line(url, protocol, says):
    from mlops_tui.backends.actions.reach import parse_url
    from mlops_tui.backends.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_url(url, protocol)
    assert says in str(info.value) and "s3cret" not in str(info.value)


@pytest.mark.apiserver
def test_deploy_from_a_claim_or_a_bucket(make_backend, fresh_namespace, admin_api):
    """A claim must exist (Pending is told: it may wait for the pod); a bucket is left to
    the server, which reads it with the Secret's keys, never a literal key."""
    from kubernetes import client as k8s

    backend = make_backend()
    args = {"name": "resnet", "replicas": 1, "dry_run": True}
    missing = run(backend, "deploy", fresh_namespace, model_repository="pvc://models/repo",
                  **args)
    assert last(missing).failure == Failure.CHECK
    assert "claim 'models' does not exist" in last(missing).message

    k8s.CoreV1Api(admin_api).create_namespaced_persistent_volume_claim(fresh_namespace, {
        "metadata": {"name": "models"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "later",
            "resources": {"requests": {"storage": "1Gi"}}}})
    pending = run(backend, "deploy", fresh_namespace, model_repository="pvc://models/repo",
                  **args)
    assert last(pending).kind == EventKind.OK, pending
    assert any("is Pending" in w for w in lines(pending, EventKind.WARNING))

    bucket = run(backend, "deploy", fresh_namespace, model_repository="s3://models/triton",
                 s3_secret="aws-keys", s3_region="eu-west-1", **args)
    assert last(bucket).kind == EventKind.OK, bucket
    assert any("not read by deploy" in w for w in lines(bucket, EventKind.WARNING))
    (dep,) = [m for m in last(bucket).data["manifests"] if m["kind"] == "Deployment"]
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {
        "name": "aws-keys", "key": "AWS_SECRET_ACCESS_KEY"}}} in env
