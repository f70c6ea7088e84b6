"""deploy / wait / undeploy with ``runtime: kserve`` on the real apiserver, with KServe's
InferenceService CRD installed (tests/fixtures/kserve/inferenceservice-crd.yaml).

KServe's controller cannot run here (it needs Knative or a real cluster's pods), so the
InferenceService's status is written by the test, through the status subresource as the
controller writes it, in the shapes recorded in tests/fixtures/kserve/isvc-*.json: first
Loading, then Loaded and Ready (or FailedToLoad). The apiserver, its discovery, the
server-side dry run, apply and delete are real.

The CRD is removed when the module ends, and the module waits until discovery no longer
serves it: other tests (the deploy screen's KServe-disabled runtime) expect a cluster
without KServe.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from mlops_tui.backends.actions import EventKind, Failure
from tests.backends.kserve_crd import GROUP, PLURAL, VERSION, install_crd, remove_crd
from tests.backends.test_deploy_actions import last, lines, run

pytestmark = pytest.mark.apiserver

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kserve"
LOADING_S = 2.5  # how long the status says Loading: the deploy polls once a second


def kserve_args(name: str = "resnet", **extra) -> dict:
    return {"name": name, "runtime": "kserve", "model_repository": f"s3://models/{name}",
            "image": "nvcr.io/nvidia/tritonserver:24.10-py3", "replicas": 1, "gpus": 0,
            "timeout": 30, **extra}


def recorded_status(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["status"]


@pytest.fixture(scope="module")
def kserve_crd(control_plane) -> Iterator[None]:
    admin_api = control_plane.admin_client()
    install_crd(admin_api)
    try:
        yield
    finally:
        remove_crd(admin_api)


class StatusWriter(threading.Thread):
    """Writes an InferenceService's status as KServe's controller does (the controller
    cannot run here): each status in turn, ``pause`` seconds apart, once the object exists.
    Bounded: gives up after ``timeout`` seconds; ``check()`` raises what went wrong."""

    def __init__(self, admin_api, namespace: str, name: str, statuses: list[dict],
                 pause: float = LOADING_S, timeout: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.admin_api, self.namespace, self.name = admin_api, namespace, name
        self.statuses, self.pause, self.timeout = statuses, pause, timeout
        self.error: BaseException | None = None
        self.written = 0

    def _write(self, api, status: dict, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                obj = api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL,
                                                       self.name)
                obj["status"] = status
                api.replace_namespaced_custom_object_status(GROUP, VERSION, self.namespace,
                                                            PLURAL, self.name, obj)
                return
            except ApiException as exc:
                if exc.status not in (404, 409):  # not created yet / changed meanwhile
                    raise
                time.sleep(0.1)
        raise TimeoutError(f"InferenceService {self.name} never appeared")

    def run(self) -> None:
        from kubernetes import client as k8s

        api = k8s.CustomObjectsApi(self.admin_api)
        deadline = time.monotonic() + self.timeout
        try:
            for i, status in enumerate(self.statuses):
                if i:
                    time.sleep(self.pause)
                self._write(api, status, deadline)
                self.written += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the test by check()
            self.error = exc

    def check(self) -> None:
        self.join(self.timeout)
        assert not self.is_alive(), "the status writer did not finish"
        if self.error is not None:
            raise self.error


def read_isvc(admin_api, namespace: str, name: str) -> dict:
    from kubernetes import client as k8s

    return k8s.CustomObjectsApi(admin_api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name)


def test_without_the_crd_kserve_is_refused_with_install_kserve(make_backend, fresh_namespace,
                                                               admin_api):
    remove_crd(admin_api)  # whatever ran before: this cluster serves no InferenceService
    events = run(make_backend(), "deploy", fresh_namespace, **kserve_args(dry_run=True))
    end = last(events)
    assert end.failure == Failure.ENVIRONMENT, events
    assert "install KServe" in end.message and "\n" not in end.message


def test_dry_run_shows_the_inferenceservice_and_its_diff(kserve_crd, make_backend,
                                                         fresh_namespace, admin_api):
    events = run(make_backend(), "deploy", fresh_namespace, **kserve_args(dry_run=True))
    end = last(events)
    assert end.kind == EventKind.OK, events
    (isvc,) = end.data["manifests"]
    assert (isvc["apiVersion"], isvc["kind"]) == (f"{GROUP}/{VERSION}", "InferenceService")
    model = isvc["spec"]["predictor"]["model"]
    assert model["storageUri"] == "s3://models/resnet"
    assert model["runtimeVersion"] == "24.10-py3"
    assert "+++ merged/inferenceservice.serving.kserve.io/resnet" in end.data["diff"]
    assert "kind: InferenceService" in lines(events)  # the YAML is in the output
    with pytest.raises(ApiException) as info:
        read_isvc(admin_api, fresh_namespace, "resnet")
    assert info.value.status == 404


def test_deploy_follows_kserve_status_until_ready_then_undeploy_removes_it(
        kserve_crd, make_backend, fresh_namespace, admin_api):
    writer = StatusWriter(admin_api, fresh_namespace, "resnet",
                          [recorded_status("isvc-loading"), recorded_status("isvc-ready")])
    writer.start()
    backend = make_backend()
    events = run(backend, "deploy", fresh_namespace, **kserve_args())
    writer.check()
    end = last(events)
    assert end.kind == EventKind.OK, events
    assert [o["kind"] for o in end.data["objects"]] == ["InferenceService"]
    assert end.data["verdict"]["kind"] == "InferenceService"
    assert end.data["verdict"]["state"] == "Ready"
    assert end.message.endswith("Ready, model Loaded, http://resnet.models.example.com")
    progress = lines(events, EventKind.PROGRESS)
    assert any(line.endswith("model not loaded → Loading") for line in progress), progress
    assert not any("not waiting" in w for w in lines(events, EventKind.WARNING))

    waited = run(backend, "wait", fresh_namespace, name="resnet", model="resnet50",
                 timeout=10, **{"for": "model_ready"})
    assert last(waited).kind == EventKind.OK, waited
    assert last(waited).data["kind"] == "InferenceService"

    gone = run(backend, "undeploy", fresh_namespace, name="resnet")
    assert last(gone).kind == EventKind.OK, gone
    assert [o["kind"] for o in last(gone).data] == ["InferenceService"]
    with pytest.raises(ApiException) as info:
        read_isvc(admin_api, fresh_namespace, "resnet")
    assert info.value.status == 404


def test_a_model_that_fails_to_load_fails_the_deploy_and_the_wait_naming_why(
        kserve_crd, make_backend, fresh_namespace, admin_api):
    writer = StatusWriter(admin_api, fresh_namespace, "bert",
                          [recorded_status("isvc-loading"),
                           recorded_status("isvc-failed-to-load")])
    writer.start()
    backend = make_backend()
    start = time.monotonic()
    events = run(backend, "deploy", fresh_namespace, **kserve_args("bert"))
    writer.check()
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), events
    assert end.message.startswith(f"inferenceservice {fresh_namespace}/bert: ")
    assert "FailedToLoad (ModelLoadFailed: " in end.message
    assert time.monotonic() - start < 25, "terminal: it does not wait for the timeout"
    assert read_isvc(admin_api, fresh_namespace, "bert")["spec"]["predictor"]

    waited = run(backend, "wait", fresh_namespace, name="bert", model="bert", timeout=10,
                 **{"for": "model_ready"})
    assert last(waited).failure == Failure.CHECK, waited
    assert "ModelLoadFailed" in last(waited).message


def test_a_wait_for_nothing_yet_names_the_deployment_and_times_out(
        kserve_crd, make_backend, fresh_namespace):
    """With both kinds served and neither made, the wait says what it waits for."""
    waited = run(make_backend(), "wait", fresh_namespace, name="nobody", model="m",
                 timeout=1, **{"for": "model_ready"})
    end = last(waited)
    assert end.failure == Failure.CHECK, waited
    assert "does not exist (yet)" in end.message
