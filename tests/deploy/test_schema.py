"""Schema checks: which schema version a cluster gets, one line per problem with its field
path, custom resources skipped with a note, and nothing a manifest holds makes it raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.deploy.manifests import ClusterFeatures, build_manifests
from mlops_tui.backends.deploy.schema import (
    MAX_ERRORS,
    schema_errors,
    schema_note,
    schema_version,
)
from mlops_tui.backends.deploy.spec import DeploySpec


def deployment() -> dict:
    spec = DeploySpec(name="web", namespace="ml", model_repository="pvc://store/web", gpus=1)
    return next(m for m in build_manifests(spec, ClusterFeatures())
                if m["kind"] == "Deployment")


def test_the_nearest_schema_version():
    assert schema_version("1.20") == "1.25"  # older than any shipped: the oldest
    assert schema_version("v1.20.2") == "1.25"
    assert schema_version("1.30") == "1.30"
    assert schema_version("1.30.7+k3s1") == "1.30"
    assert schema_version("1.99") >= "1.37"
    with pytest.raises(ValueError, match="expected MAJOR.MINOR"):
        schema_version("latest")


def test_a_broken_manifest_names_each_field_path():
    manifest = deployment()
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "eight thousand"
    container["imagePullPolicy"] = 7
    manifest["spec"]["replcas"] = 2
    errors = schema_errors(manifest, "1.20")
    assert errors == [
        "Deployment/web: spec: Additional properties are not allowed ('replcas' was "
        "unexpected)",
        "Deployment/web: spec.template.spec.containers[0].imagePullPolicy: 7 is not of type "
        "'string', 'null'",
        "Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: 'eight "
        "thousand' is not of type 'integer'",
    ]


def test_missing_identity_and_wrong_shapes():
    assert schema_errors([], "1.20") == ["(manifest): must be a mapping, not list"]
    assert schema_errors({"apiVersion": "v1"}, "1.20") == ["?/?: kind: is missing"]
    assert schema_errors({"kind": "Service", "metadata": {"name": "s"}}, "1.20") == [
        "Service/s: apiVersion: is missing"]
    errors = schema_errors({"apiVersion": "v1", "kind": "Service", "metadata": "s"}, "1.20")
    assert errors and errors[0].startswith("Service/?: metadata: 's' is not of type")


def test_custom_resources_and_unknown_kinds_are_skipped_with_a_note():
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
               "metadata": {"name": "m"}, "spec": {"anything": True}}
    assert schema_errors(monitor, "1.20") == []
    assert schema_note(monitor, "1.20") == (
        "ServiceMonitor/m: not checked: no monitoring.coreos.com/v1 ServiceMonitor schema for "
        "Kubernetes 1.25 in kubernetes-validate (a custom resource?)")
    sneaky = {"apiVersion": "../../../etc/v1", "kind": "../Passwd", "metadata": {"name": "x"}}
    assert schema_errors(sneaky, "1.20") == []
    assert "not checked" in schema_note(sneaky, "1.20")
    assert schema_note(deployment(), "1.20") is None


def test_a_hopeless_manifest_is_cut_short():
    manifest = deployment()
    manifest["spec"]["template"]["spec"]["containers"] = [
        {"name": 1, "image": 2, "ports": "x"} for _ in range(30)]
    errors = schema_errors(manifest, "1.20")
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1].startswith("Deployment/web: ... and ")


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["Deployment", "Service", "ConfigMap", "Pod", "X", ""]),
       api_version=st.sampled_from(["apps/v1", "v1", "", "batch/v1"]),
       body=st.dictionaries(st.sampled_from(["spec", "metadata", "data", "status"]),
                            st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                         lambda inner: st.lists(inner, max_size=2)
                                         | st.dictionaries(st.text(max_size=5), inner,
                                                           max_size=2), max_leaves=8)))
def test_garbage_never_raises(kind, api_version, body):
    manifest = {"kind": kind, "apiVersion": api_version, **body}
    errors = schema_errors(manifest, "1.20")
    assert all(isinstance(line, str) and "\n" not in line for line in errors)
