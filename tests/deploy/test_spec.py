"""The deploy spec and model sources: what a user may type, and the one-line refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.deploy.spec import (
    DEFAULT_TRITON_IMAGE,
    DeploySpec,
    ModelSource,
    parse_model_source,
    spec_from,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("pvc://models/repo", ModelSource("pvc", "repo", claim="models")),
    ("pvc://models", ModelSource("pvc", "", claim="models")),
    ("pvc://models//a/./b/", ModelSource("pvc", "a/b", claim="models")),
    ("s3://bucket-1/triton/repo", ModelSource("s3", "triton/repo", bucket="bucket-1")),
    ("s3://minio.local:9000/models/r", ModelSource("s3", "r", bucket="models",
                                                   endpoint="minio.local:9000")),
    ("s3://https://minio:9000/models", ModelSource("s3", "", bucket="models",
                                                   endpoint="https://minio:9000")),
    ("./model_repository", ModelSource("local", "./model_repository")),
    ("file:///srv/models", ModelSource("local", "/srv/models")),
])
def test_sources(text, expected):
    assert parse_model_source(text) == expected


def test_uri_round_trips():
    for text in ("pvc://models/repo", "s3://bucket-1/a/b", "s3://minio:9000/bkt/x",
                 "s3://https://minio:9000/bkt"):
        assert parse_model_source(text).uri == text


@pytest.mark.parametrize(("text", "message"), [
    ("", "must not be empty"),
    ("gs://bucket/x", "gs:// is not supported; use a local directory, pvc://CLAIM/PATH or "
                      "s3://BUCKET/PATH"),
    ("pvc://Models/x", "claim name 'Models' must be"),
    ("pvc:///x", "claim name '' must not be empty"),
    ("pvc://models/../etc", "may not contain '..'"),
    ("s3://b/x", "bucket 'b' is not an S3 bucket name"),
    ("s3://bucket/a/../../x", "may not contain '..'"),
    ("s3://bad host:9000/bucket", "is not HOST:PORT"),
    ("s3://bucket/a\\b", "backslash"),
    ("file://", "names no directory"),
])
def test_bad_sources_are_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match="model repository") as err:
        parse_model_source(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_source_or_a_value_error(text):
    try:
        source = parse_model_source(text)
    except ValueError:
        return
    assert ".." not in source.path.split("/") or source.kind == "local"


def test_defaults():
    spec = DeploySpec(name="resnet", model_repository="pvc://models/resnet")
    assert spec.image == DEFAULT_TRITON_IMAGE == "nvcr.io/nvidia/tritonserver:24.10-py3"
    assert (spec.namespace, spec.runtime, spec.replicas, spec.gpus) == ("default", "triton", 1, 0)
    assert spec.init_image == "busybox:1.36" and spec.startup_timeout_s == 600
    assert spec.source == ModelSource("pvc", "resnet", claim="models")
    with pytest.raises(ValueError):
        spec.replicas = 3  # frozen


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "ResNet"}, "name: 'ResNet' must be lower-case"),
    ({"name": "a" * 64}, "name: 'aaaa"),
    ({"name": "7b-model"}, "name: '7b-model' must start with a letter (it names the Service"),
    ({"namespace": "ml/x"}, "namespace: 'ml/x' must be lower-case"),
    ({"model_repository": "gs://x/y"}, "model_repository: model repository 'gs://x/y'"),
    ({"cpu": "two"}, "cpu: 'two' is not a Kubernetes quantity"),
    ({"memory": "-1Gi"}, "memory: '-1Gi' is not a Kubernetes quantity"),
    ({"gpus": 17}, "gpus: Input should be less than or equal to 16"),
    ({"replicas": -1}, "replicas: Input should be greater than or equal to 0"),
    ({"image": "nvcr.io/x y"}, "image: 'nvcr.io/x y' is not an image reference"),
    ({"node_selector": {"gpu type": "a100"}}, "node_selector: node selector: label key"),
    ({"labels": {"team": "a b"}}, "labels: labels: value 'a b' of 'team'"),
    ({"labels": {"app.kubernetes.io/name": "x"}}, "is set by the deployment itself"),
    ({"extra_args": ["--model-repository=/x"]}, "--model-repository is set from the other"),
    ({"extra_args": ["rm -rf /"]}, "each argument is one --option[=value]"),
    ({"extra_args": ["--log-verbose=1\n--x"]}, "without control characters"),
    ({"tolerations": [{"operator": "Maybe"}]}, "tolerations.operator"),
    ({"pvc_size": "10Gi"}, "pvc_size creates the claim of a pvc:// model repository"),
    ({"s3_secret": "creds"}, "s3_secret and s3_region are for an s3:// model repository"),
    ({"startup_timeout_s": 5}, "startup_timeout_s: Input should be greater than or equal to 10"),
    ({"service_type": "ExternalName"}, "service_type: Input should be"),
    ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
])
def test_bad_specs_say_which_field(fields, message):
    data = {"name": "resnet", "model_repository": "./repo", **fields}
    with pytest.raises(ValueError) as err:
        spec_from(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_storage_class_only_with_a_claim_to_create():
    with pytest.raises(ValueError, match="storage_class is used only with pvc_size"):
        DeploySpec(name="m", model_repository="pvc://c/p", storage_class="fast")
    spec = DeploySpec(name="m", model_repository="pvc://c/p", pvc_size="20Gi",
                      storage_class="fast-ssd", replicas=2)
    assert spec.notes() == ["the claim is created ReadWriteMany: replicas on several nodes "
                            "share it, which the storage class must support"]


def test_notes_for_s3_without_credentials_or_region():
    spec = DeploySpec(name="m", model_repository="s3://models-bucket/triton")
    assert spec.notes() == [
        "no s3_secret: the server reads the bucket with the node's own credentials (an "
        "instance role or IRSA), or fails to",
        "no s3_region: AWS_DEFAULT_REGION is not set for the server"]
    spec = DeploySpec(name="m", model_repository="s3://models-bucket/triton",
                      s3_secret="aws-creds", s3_region="eu-west-1")
    assert spec.notes() == []


def test_tolerations_are_kept_as_the_api_spells_them():
    spec = DeploySpec(name="m", model_repository="./r", tolerations=[
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}])
    assert spec.tolerations == [{"key": "dedicated", "operator": "Equal", "value": "ml",
                                 "effect": "NoSchedule"}]
