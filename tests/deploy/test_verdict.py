"""The readiness verdict on what a real 1.20 apiserver said (tests/fixtures/deploy/, recorded
by record_deploy.py), and on variations of it a test builds from those objects."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.deploy.verdict import Verdict, readiness_verdict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy"
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def scenario(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def recorded_at(data: Any) -> dt.datetime:
    """The latest time in the recording: when it was read."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and _TIME.match(value):
            found.append(value)

    walk(data)
    return max(dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in found)


def verdict(data: dict[str, Any], model_ready: dict[str, Any] | None = None,
            later_s: float = 1.0, all_ready: bool = False) -> Verdict:
    names = [p["metadata"]["name"] for p in data["pods"]]
    answers = {n: True for n in names} if all_ready else (model_ready or {})
    return readiness_verdict(data["deployment"], data["pods"], data["events"],
                             data["endpoints"], answers,
                             now=recorded_at(data) + dt.timedelta(seconds=later_s))


def pod_names(data: dict[str, Any]) -> list[str]:
    return [p["metadata"]["name"] for p in data["pods"]]


def test_two_serving_replicas_are_ready():
    data = scenario("ready")
    result = verdict(data, all_ready=True)
    assert result.state == "Ready" and result.ready and not result.terminal
    assert result.summary == "2/2 replicas Ready"
    assert [r.state for r in result.replicas] == ["Ready", "Ready"]


def test_not_ready_until_triton_has_answered_for_every_pod():
    data = scenario("ready")
    first, second = pod_names(data)
    result = verdict(data, {first: True, second: None})
    assert result.state == "Progressing"
    assert result.summary == f"1/2 Ready: pod {second} Triton has not been asked about the " \
                             "model yet"
    result = verdict(data, {first: True, second: False})
    assert "loading" in result.summary and not result.terminal


def test_a_model_that_failed_to_load_fails_the_replica_even_if_the_pod_is_ready():
    data = scenario("ready")
    first, second = pod_names(data)
    reason = "model 'resnet' failed to load: unable to find backend 'onnxruntime'"
    result = verdict(data, {first: True, second: reason})
    assert result.terminal
    assert result.summary == f"1/2 Ready: pod {second} {reason}"


def test_a_pod_missing_from_the_endpoints_is_never_ready():
    data = scenario("ready")
    first, second = pod_names(data)
    for subset in data["endpoints"]["subsets"]:
        subset["addresses"] = [a for a in subset["addresses"]
                               if a["targetRef"]["name"] != second]
    result = verdict(data, all_ready=True)
    assert result.state == "Progressing"
    assert f"pod {second} not in the service's endpoints yet" in result.summary
    data["endpoints"] = None
    assert "no endpoints" in verdict(data, all_ready=True).summary


def test_a_crash_looping_replica_fails_the_deployment_with_its_exit_and_restarts():
    data = scenario("crashloop")
    crashing = data["pods"][1]["metadata"]["name"]
    result = verdict(data, {data["pods"][0]["metadata"]["name"]: True})
    assert result.terminal
    assert result.summary == f"1/2 Ready: pod {crashing} CrashLoopBackOff (exit 1, 5 restarts)"
    assert [r.state for r in result.replicas] == ["Ready", "Failed"]


def test_oom_killed_is_named_with_its_exit_code():
    data = scenario("crashloop")
    last = data["pods"][1]["status"]["containerStatuses"][0]["lastState"]["terminated"]
    last.update(reason="OOMKilled", exitCode=137)
    result = verdict(data)
    assert "CrashLoopBackOff (OOMKilled, exit 137, 5 restarts)" in result.summary


def test_restarts_that_keep_climbing_are_never_ready():
    """A container running again after recent restarts, its pod momentarily Ready."""
    data = scenario("ready")
    status = data["pods"][1]["status"]["containerStatuses"][0]
    finished = recorded_at(data) - dt.timedelta(seconds=30)
    status.update(restartCount=4, lastState={"terminated": {
        "exitCode": 1, "reason": "Error", "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ")}})
    result = verdict(data, all_ready=True)
    assert result.terminal and "restarting (exit 1, 4 restarts, the last 31s ago)" in \
        result.summary
    status["restartCount"] = 1  # one restart: still starting, not failed
    result = verdict(data, all_ready=True)
    assert result.state == "Progressing" and "1 restart," in result.summary
    # a restart long ago does not count against a serving pod
    assert verdict(data, all_ready=True, later_s=3600).state == "Ready"


def test_unschedulable_names_the_schedulers_reason_then_fails():
    data = scenario("unschedulable")
    [pod] = data["pods"]
    result = verdict(data, later_s=5)
    assert result.state == "Progressing"
    assert result.replicas[0].state == "Pending"
    assert result.summary == (f"0/1 Ready: pod {pod['metadata']['name']} Unschedulable: 0/3 "
                              "nodes are available: 3 Insufficient nvidia.com/gpu.")
    late = verdict(data, later_s=120)
    assert late.terminal and late.replicas[0].state == "Failed"
    # the scheduler's event may be read before the pod's condition is written
    del pod["status"]["conditions"]
    assert verdict(data, later_s=5).summary == result.summary


def test_a_failing_readiness_probe_is_the_reason():
    data = scenario("probe-failing")
    result = verdict(data, {pod_names(data)[0]: False})
    assert result.state == "Progressing"
    assert result.replicas[0].reason == ("Readiness probe failed: HTTP probe failed with "
                                         "statuscode: 400")


def test_a_probe_failure_from_before_the_container_started_is_stale():
    data = scenario("probe-failing")
    later = recorded_at(data) + dt.timedelta(seconds=30)
    status = data["pods"][0]["status"]["containerStatuses"][0]
    status["state"]["running"]["startedAt"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = verdict(data, {pod_names(data)[0]: False}, later_s=40)
    assert result.replicas[0].reason == "not ready"
    status["started"] = False  # a startup probe failing is the reason while it starts
    data["events"][0]["lastTimestamp"] = (later + dt.timedelta(seconds=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    result = verdict(data, {pod_names(data)[0]: False}, later_s=40)
    assert result.replicas[0].reason.startswith("Readiness probe failed")


def test_an_image_that_cannot_be_pulled_is_terminal():
    data = scenario("image-pull")
    result = verdict(data)
    assert result.terminal
    assert result.replicas[0].reason == ('ImagePullBackOff: Back-off pulling image '
                                         '"nvcr.io/nvidia/tritonserver:24.10-py9"')


def test_an_init_container_failure_is_named_as_such():
    data = scenario("probe-failing")
    init = data["pods"][0]["status"]["initContainerStatuses"][0]
    init["state"] = {"waiting": {"reason": "CreateContainerConfigError",
                                 "message": 'configmap "slow-models" not found'}}
    result = verdict(data)
    assert result.terminal
    assert result.replicas[0].reason == ('init container copy-models: CreateContainerConfigError'
                                         ': configmap "slow-models" not found')


def test_terminating_pods_are_not_replicas_and_missing_pods_are_counted():
    data = scenario("ready")
    data["pods"][1]["metadata"]["deletionTimestamp"] = "2026-12-02T11:00:00Z"
    result = verdict(data, all_ready=True)
    assert len(result.replicas) == 1
    assert result.summary == "1/2 Ready: 1 replica without a pod yet"


def test_a_passed_progress_deadline_or_replica_failure_is_terminal():
    data = scenario("probe-failing")
    conditions = data["deployment"]["status"]["conditions"]
    conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                       "message": 'pods "slow-x" is forbidden: exceeded quota: gpu'})
    result = verdict(data, {pod_names(data)[0]: False})
    assert result.terminal and "ReplicaFailure: pods \"slow-x\" is forbidden" in result.summary
    conditions[:] = [{"type": "Progressing", "status": "False",
                      "reason": "ProgressDeadlineExceeded"}]
    assert "exceeded its progress deadline" in verdict(data).summary


def test_no_deployment_yet_and_scaled_to_zero():
    result = readiness_verdict(None, [], [], None, {}, now=dt.datetime.now(dt.UTC))
    assert result.state == "Progressing" and not result.terminal
    data = scenario("ready")
    deployment = copy.deepcopy(data["deployment"])
    deployment["spec"]["replicas"] = 0
    deployment["status"] = {"observedGeneration": deployment["metadata"]["generation"]}
    result = readiness_verdict(deployment, [], [], None, {}, now=dt.datetime(2026, 1, 1))
    assert result.ready and result.summary == "0/0 replicas Ready"


def test_server_text_stays_on_one_line():
    data = scenario("image-pull")
    waiting = data["pods"][0]["status"]["containerStatuses"][0]["state"]["waiting"]
    waiting["message"] = "line one\nline two [bold]x[/bold]\r\n" + "y" * 1000
    result = verdict(data)
    assert "\n" not in result.summary and len(result.replicas[0].reason) <= 300


# garbage: anything where an object, a list or a value is expected
_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                  st.sampled_from(["True", "False", "Running", "Pending", "Failed",
                                   "CrashLoopBackOff", "Unschedulable", "2026-12-02T10:00:00Z",
                                   "Ready", "PodScheduled", "Pod"]))
_value = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(
        ["metadata", "spec", "status", "name", "uid", "replicas", "conditions", "type",
         "status", "reason", "message", "containerStatuses", "initContainerStatuses",
         "state", "waiting", "terminated", "running", "lastState", "restartCount",
         "exitCode", "finishedAt", "phase", "podIP", "subsets", "addresses",
         "notReadyAddresses", "ip", "targetRef", "involvedObject", "lastTimestamp",
         "deletionTimestamp", "nodeName", "generation", "observedGeneration"]),
        inner, max_size=4)), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(deployment=_value, pods=_value, events=_value, endpoints=_value, answers=_value)
def test_garbage_shaped_objects_never_raise(deployment, pods, events, endpoints, answers):
    result = readiness_verdict(deployment, pods, events, endpoints, answers,
                               now=dt.datetime(2026, 12, 2, 10, 0))
    assert result.state in ("Ready", "Progressing", "Failed")


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_garbage_inside_real_objects_never_raises(data):
    """Real recorded objects with one field replaced by garbage."""
    recorded = scenario(data.draw(st.sampled_from(
        ["ready", "crashloop", "unschedulable", "probe-failing", "image-pull"])))
    target = recorded
    path = data.draw(st.lists(st.integers(0, 30), min_size=1, max_size=6))
    for step in path:
        children = (list(target) if isinstance(target, dict) else
                    list(range(len(target))) if isinstance(target, list) else [])
        if not children:
            break
        key = children[step % len(children)]
        if not isinstance(target[key], (dict, list)) or step % 3 == 0:
            target[key] = data.draw(_value)
            break
        target = target[key]
    readiness_verdict(recorded.get("deployment"), recorded.get("pods"), recorded.get("events"),
                      recorded.get("endpoints"), {"x": True},
                      now=dt.datetime(2026, 12, 2, 11, 0, tzinfo=dt.UTC))
