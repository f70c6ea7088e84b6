"""Rollback math on ReplicaSets the real controller-manager created (rollback.json, recorded by
record_deploy.py: one Deployment patched twice, three revisions), and a round trip on the
live control plane: the patch applied, the controller brings back the old ReplicaSet."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from mlops_tui.backends.deploy.rollback import (
    REVISION,
    TEMPLATE_HASH,
    history,
    rollback_patch,
    rollback_target,
    template_matches,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy"
IMAGE = "nvcr.io/nvidia/tritonserver:{}"


def recorded() -> tuple[dict, list[dict]]:
    data = json.loads((FIXTURES / "rollback.json").read_text())
    return data["deployment"], data["replica_sets"]


def image_of(template: dict) -> str:
    return template["spec"]["containers"][0]["image"]


def test_only_the_deployments_own_replica_sets_are_its_history():
    deployment, replica_sets = recorded()
    assert len(replica_sets) > 3  # the namespace holds other deployments' too
    found = history(deployment, replica_sets)
    assert sorted(found) == [1, 2, 3]
    assert all(rs["metadata"]["name"].startswith("hist-") for rs in found.values())


def test_undo_goes_to_the_previous_revision_without_the_hash_label():
    deployment, replica_sets = recorded()
    revision, template = rollback_target(deployment, replica_sets)
    assert revision == 2 and image_of(template) == IMAGE.format("24.09-py3")
    assert TEMPLATE_HASH not in template["metadata"]["labels"]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "hist"
    source = history(deployment, replica_sets)[2]
    assert TEMPLATE_HASH in source["spec"]["template"]["metadata"]["labels"]  # not mutated


def test_undo_to_a_named_revision_or_a_missing_one():
    deployment, replica_sets = recorded()
    assert image_of(rollback_target(deployment, replica_sets, 1)[1]) == IMAGE.format("24.08-py3")
    assert rollback_target(deployment, replica_sets, 0)[0] == 2  # 0: kubectl's "previous"
    with pytest.raises(ValueError, match=r"no revision 7 \(revisions: 1, 2, 3\)"):
        rollback_target(deployment, replica_sets, 7)


def test_a_deployment_with_one_revision_has_no_previous_one():
    deployment, replica_sets = recorded()
    resnet = next(rs for rs in replica_sets if rs["metadata"]["name"].startswith("resnet-"))
    owner = resnet["metadata"]["ownerReferences"][0]
    single = {"metadata": {"name": "resnet", "namespace": "serve", "uid": owner["uid"]},
              "spec": {}}
    with pytest.raises(ValueError, match="no previous revision"):
        rollback_target(single, replica_sets)
    with pytest.raises(ValueError, match="no previous revision"):
        rollback_target(deployment, [])


def test_a_paused_deployment_is_not_rolled_back():
    deployment, replica_sets = recorded()
    deployment["spec"]["paused"] = True
    with pytest.raises(ValueError, match="paused"):
        rollback_target(deployment, replica_sets)


def test_unreadable_revisions_are_skipped_and_a_local_deployment_matches_by_name():
    deployment, replica_sets = recorded()
    replica_sets = copy.deepcopy(replica_sets)
    three = history(deployment, replica_sets)[3]
    three["metadata"]["annotations"][REVISION] = "three"
    assert sorted(history(deployment, replica_sets)) == [1, 2]
    del deployment["metadata"]["uid"]
    assert sorted(history(deployment, replica_sets)) == [1, 2]


def test_the_patch_kubectl_would_send():
    deployment, replica_sets = recorded()
    deployment["metadata"]["annotations"]["team"] = "vision"  # the deployment's own: dropped
    revision, patch = rollback_patch(deployment, replica_sets)
    assert revision == 2
    assert patch[0]["path"] == "/spec/template"
    assert image_of(patch[0]["value"]) == IMAGE.format("24.09-py3")
    assert patch[1] == {"op": "replace", "path": "/metadata/annotations",
                        "value": {REVISION: "3"}}
    assert not template_matches(deployment, patch[0]["value"])
    assert template_matches(deployment, rollback_target(deployment, replica_sets, 3)[1])


@pytest.mark.apiserver
def test_the_controller_brings_back_the_old_replica_set(control_plane, fresh_namespace,
                                                        admin_api):
    """On the real control plane: two revisions, the rollback patch applied; the controller
    renumbers the first ReplicaSet as revision 3 instead of creating a new one, which is
    what happens after ``kubectl rollout undo``."""
    from kubernetes import client

    from mlops_tui.backends.deploy.manifests import ClusterFeatures, build_manifests
    from mlops_tui.backends.deploy.spec import DeploySpec

    apps = client.AppsV1Api(admin_api)
    spec = DeploySpec(name="undo", namespace=fresh_namespace, model_repository="pvc://models",
                      image=IMAGE.format("24.08-py3"))
    [body] = [m for m in build_manifests(spec, ClusterFeatures()) if m["kind"] == "Deployment"]
    apps.create_namespaced_deployment(fresh_namespace, body)

    def replica_sets(count: int) -> list[dict]:
        for _ in range(200):
            found = [admin_api.sanitize_for_serialization(rs) for rs in
                     apps.list_namespaced_replica_set(fresh_namespace).items]
            if len(found) == count and all(
                    (rs["metadata"].get("annotations") or {}).get(REVISION) for rs in found):
                return found
            time.sleep(0.1)
        raise AssertionError(f"expected {count} replica sets, found {len(found)}")

    first = replica_sets(1)[0]
    apps.patch_namespaced_deployment("undo", fresh_namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "tritonserver", "image": IMAGE.format("24.09-py3")}]}}}})
    found = replica_sets(2)
    deployment = admin_api.sanitize_for_serialization(
        apps.read_namespaced_deployment("undo", fresh_namespace))
    revision, patch = rollback_patch(deployment, found)
    assert revision == 1
    resp = admin_api.rest_client.pool_manager.request(  # kubectl's JSON patch, as sent
        "PATCH", f"{admin_api.configuration.host}/apis/apps/v1/namespaces/{fresh_namespace}"
                 "/deployments/undo", body=json.dumps(patch).encode(),
        headers={"Content-Type": "application/json-patch+json", "Accept": "application/json"})
    assert resp.status == 200, resp.data[:300]
    for _ in range(200):
        after = {rs["metadata"]["name"]: rs["metadata"]["annotations"].get(REVISION)
                 for rs in replica_sets(2)}
        if after[first["metadata"]["name"]] == "3":
            break
        time.sleep(0.1)
    assert after[first["metadata"]["name"]] == "3"
    now = apps.read_namespaced_deployment("undo", fresh_namespace)
    assert now.spec.template.spec.containers[0].image == IMAGE.format("24.08-py3")
