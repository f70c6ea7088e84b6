"""The InferenceService verdict on statuses of the shape KServe's controller (0.11+) writes
(tests/fixtures/kserve/isvc-*.json): conditions and modelStatus."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.deploy.isvc_verdict import isvc_verdict

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kserve"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_ready_names_the_model_state_and_the_url():
    verdict = isvc_verdict(recorded("isvc-ready"))
    assert (verdict.state, verdict.replicas) == ("Ready", ())
    assert verdict.summary == "Ready, model Loaded, http://resnet.models.example.com"


def test_loading_is_progressing_with_the_first_part_that_is_not_ready():
    verdict = isvc_verdict(recorded("isvc-loading"))
    assert verdict.state == "Progressing" and not verdict.terminal
    assert verdict.summary == ('PredictorReady False: RevisionMissing: Configuration '
                               '"resnet-predictor" is waiting for a Revision to become ready.; '
                               "model not loaded → Loading")


def test_predictor_before_ingress_before_ready():
    isvc = recorded("isvc-loading")
    conditions = isvc["status"]["conditions"]
    for cond in conditions:
        if cond["type"] == "PredictorReady":
            cond.update(status="True", reason="", message="")
    assert isvc_verdict(isvc).summary.startswith("IngressReady Unknown: IngressNotConfigured: ")
    isvc["status"]["conditions"] = [c for c in conditions if c["type"] == "Ready"]
    assert isvc_verdict(isvc).summary.startswith("Ready False: RevisionMissing")


@pytest.mark.parametrize(("fixture", "reason"), [
    ("isvc-failed-to-load", "model FailedToLoad (ModelLoadFailed: Container failed with: "
                            "error: creating server: Internal - failed to load all models)"),
    ("isvc-no-runtime", "model FailedToLoad (NoSupportingRuntime: No runtime found to "
                        "support predictor with model type: {triton <nil>})"),
])
def test_a_model_that_failed_to_load_is_terminal_and_named(fixture, reason):
    verdict = isvc_verdict(recorded(fixture))
    assert (verdict.state, verdict.terminal) == ("Failed", True)
    assert verdict.summary == f"InferenceService: {reason}"


def test_last_failure_alone_fails_but_ready_outlives_an_old_failure():
    loading = recorded("isvc-loading")
    loading["status"]["modelStatus"]["lastFailureInfo"] = {"reason": "RuntimeUnhealthy",
                                                          "message": "probe failed"}
    assert isvc_verdict(loading).summary == ("InferenceService: model InProgress "
                                             "(RuntimeUnhealthy: probe failed)")
    ready = recorded("isvc-ready")
    ready["status"]["modelStatus"]["lastFailureInfo"] = {"reason": "ModelLoadFailed"}
    assert isvc_verdict(ready).state == "Ready"


def test_a_status_for_an_older_generation_is_not_ready():
    isvc = recorded("isvc-ready")
    isvc["metadata"]["generation"] = 2
    verdict = isvc_verdict(isvc)
    assert verdict.state == "Progressing"
    assert verdict.summary == "KServe has not seen generation 2 yet (status is for 1)"


def test_missing_and_empty():
    assert isvc_verdict(None).summary == "the InferenceService does not exist (yet)"
    fresh = recorded("isvc-ready")
    del fresh["status"]
    verdict = isvc_verdict(fresh)
    assert (verdict.state, verdict.summary) == ("Progressing",
                                                "KServe has written no conditions yet")


@pytest.mark.parametrize("junk", [[], "x", 3, {"status": []}, {"status": {"conditions": {}}},
                                  {"status": {"conditions": [None, 1, {"type": 5}],
                                              "modelStatus": {"states": "Loaded"}}},
                                  {"metadata": [], "status": {"modelStatus": []}}])
def test_any_shape_gives_a_verdict(junk):
    assert isvc_verdict(junk).state == "Progressing"


def test_the_recorded_files_are_not_changed_by_the_verdict():
    isvc = recorded("isvc-failed-to-load")
    before = copy.deepcopy(isvc)
    isvc_verdict(isvc)
    assert isvc == before
