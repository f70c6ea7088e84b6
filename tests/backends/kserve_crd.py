"""KServe's InferenceService CRD in the test control plane: installed and removed by the
tests that need it, each waiting on discovery, so a test that expects a cluster without
KServe (the deploy screen's disabled runtime) never sees one left behind."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes.client.rest import ApiException

from tests.backends.conftest import wait_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kserve"
CRD_NAME = "inferenceservices.serving.kserve.io"
GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


def _served(admin_api) -> bool:
    from kubernetes import client as k8s

    groups = k8s.ApisApi(admin_api).get_api_versions().groups
    if not any(g.name == GROUP for g in groups):
        return False
    resources = k8s.CustomObjectsApi(admin_api).get_api_resources(GROUP, VERSION).resources
    return any(r.name == PLURAL for r in resources)


def install_crd(admin_api) -> None:
    """Create KServe's CRD (idempotent) and wait until discovery serves the kind."""
    from kubernetes import client as k8s

    body = yaml.safe_load((FIXTURES / "inferenceservice-crd.yaml").read_text())
    try:
        k8s.ApiextensionsV1Api(admin_api).create_custom_resource_definition(body)
    except ApiException as exc:
        if exc.status != 409:
            raise
    wait_for(lambda: _served(admin_api), 30, "discovery to serve InferenceService")


def remove_crd(admin_api) -> None:
    """Delete the CRD (idempotent) and wait until discovery no longer serves it."""
    from kubernetes import client as k8s

    try:
        k8s.ApiextensionsV1Api(admin_api).delete_custom_resource_definition(CRD_NAME)
    except ApiException as exc:
        if exc.status != 404:
            raise

    def gone() -> bool:
        try:
            k8s.ApiextensionsV1Api(admin_api).read_custom_resource_definition(CRD_NAME)
            return False
        except ApiException as exc:
            return exc.status == 404 and not _served(admin_api)
    wait_for(gone, 60, "the InferenceService CRD to go")
