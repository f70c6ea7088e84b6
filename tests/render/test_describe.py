"""The one describe renderer over objects recorded from the real apiserver, with their related
objects looked up from the same recording (as the demo looks them up in its world and the
Kubernetes backend asks the API)."""

from __future__ import annotations

import os
import re
import time

import pytest

from mlops_tui.backends.render import pods as pod_rows
from mlops_tui.backends.render.describe import describe, to_yaml
from mlops_tui.backends.render.related import ListedRelated, NoRelated
from tests.render import recorded

NOW = recorded.asked_at("pods")[1]


@pytest.fixture(scope="module")
def related() -> ListedRelated:
    return ListedRelated({
        "pods": recorded.items("pods") + recorded.items("pods-status-by-hand"),
        "events": recorded.items("events") + recorded.items("node-events"),
        "replicasets": recorded.items("replicasets"),
    })


def value(text: str, key: str) -> str:
    """The value on the first ``Key:`` line at the left margin."""
    match = re.search(rf"^{re.escape(key)}:\s+(.*)$", text, re.MULTILINE)
    assert match, f"no {key!r} in:\n{text}"
    return match.group(1)


def test_pod_status_is_the_tables_status(related):
    for source in ("pods", "pods-status-by-hand", "pods-in-terminating-namespace"):
        for pod in recorded.items(source):
            text = describe(pod, related, NOW)
            assert value(text, "Status").startswith(pod_rows.pod_phase(pod)), pod["metadata"]


def test_pod_with_init_containers_in_a_crash_loop(related):
    # status written by hand: no kubelet runs on the test's fake nodes (manifests.py)
    text = describe(recorded.named("pods-status-by-hand", "init-crashloop"), related, NOW)
    assert value(text, "Status") == "Init:CrashLoopBackOff"
    assert text.index("Init Containers:") < text.index("\nContainers:")
    warm = text[text.index("  warm:"):text.index("\nContainers:")]
    assert re.search(r"State:\s+Waiting\n\s+Reason:\s+CrashLoopBackOff", warm)
    assert re.search(r"Last State:\s+Terminated\n\s+Reason:\s+Error\n\s+Exit Code:\s+1", warm)
    assert re.search(r"Restart Count:\s+4", warm)
    assert "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s" in text


def test_terminating_pod_shows_its_grace_period(related):
    text = describe(recorded.named("pods-status-by-hand", "terminating"), related, NOW)
    assert value(text, "Status").startswith("Terminating (lasts ")
    assert value(text, "Termination Grace Period") == "30s"


def test_pod_events_come_from_the_lookup(related):
    text = describe(recorded.named("pods", "unschedulable"), related, NOW)
    events = text[text.index("Events:"):]
    assert "FailedScheduling" in events and "Insufficient nvidia.com/gpu" in events
    assert re.search(r"Warning\s+FailedScheduling\s+\S+ \(x2 over \S+\)\s+default-scheduler",
                     events)
    assert value(text, "Node") == "<none>"


def test_deployment_names_its_new_replica_set(related):
    text = describe(recorded.named("deployments", "triton"), related, NOW)
    (rs,) = recorded.items("replicasets")
    assert value(text, "Replicas") == (
        "2 desired | 2 updated | 2 total | 1 available | 1 unavailable")
    assert value(text, "NewReplicaSet") == f"{rs['metadata']['name']} (2/2 replicas created)"
    assert value(text, "OldReplicaSets") == "<none>"
    assert "ScalingReplicaSet" in text and "nvidia.com/gpu:  1" in text


def test_controllers_count_their_pods_by_phase(related):
    (rs,) = recorded.items("replicasets")
    # one triton pod runs (its status written by hand), the other waits on its fake node
    assert value(describe(rs, related, NOW), "Pods Status") == (
        "1 Running / 1 Waiting / 0 Succeeded / 0 Failed")
    assert value(describe(rs, related, NOW), "Controlled By") == "Deployment/triton"
    sts = describe(recorded.named("statefulsets", "llm"), related, NOW)
    assert value(sts, "Pods Status") == "0 Running / 1 Waiting / 0 Succeeded / 0 Failed"
    done = describe(recorded.named("jobs", "done"), related, NOW)
    assert value(done, "Pods Statuses") == "0 Running / 1 Succeeded / 0 Failed"
    assert "Completed At:" in done and value(done, "Duration").endswith("s")
    cron = describe(recorded.named("cronjobs", "every-minute"), related, NOW)
    assert value(cron, "Active Jobs").startswith("every-minute-")


def test_node_lists_its_pods_and_gpu_requests(related):
    text = describe(recorded.named("nodes", "gpu-a100-1"), related, NOW)
    assert value(text, "Roles") == "worker"
    # GPU pods bound to it by the scheduler: pending-gpu, two triton replicas, llm-0
    assert re.search(r"nvidia.com/gpu \(incl. MIG\)\s+4/4", text)
    listed = text[text.index("Non-terminated Pods:"):text.index("Allocated resources:")]
    for name in ("pending-gpu", "llm-0", "running", "crashloop"):
        assert f" {name} " in listed
    # the finished ones hold nothing on the node any more
    for name in ("completed", "signal", "evicted"):
        assert f" {name} " not in listed
    mig = describe(recorded.named("nodes", "gpu-mig-1"), related, NOW)
    assert re.search(r"nvidia.com/gpu \(incl. MIG\)\s+0/7", mig)
    dead = describe(recorded.named("nodes", "dead-1"), related, NOW)
    assert "NodeNotReady" in dead or "NodeStatusUnknown" in dead


def test_service_endpoints_are_its_ready_pods(related):
    text = describe(recorded.named("services", "triton"), related, NOW)
    # only the triton pod whose status says Ready (written by hand) is an endpoint
    assert re.findall(r"^Endpoints:\s+(.*)$", text, re.MULTILINE) == [
        "10.244.1.9:8000", "10.244.1.9:8001"]
    assert value(describe(recorded.named("services", "models-bucket"), related, NOW),
                 "External Name") == "models.example.com"


def test_claim_config_map_namespace(related):
    claim = describe(recorded.named("persistentvolumeclaims", "models"), related, NOW)
    assert (value(claim, "Status"), value(claim, "Capacity"), value(claim, "Access Modes")) == (
        "Bound", "20Gi", "RWO,ROX")
    config = describe(recorded.named("configmaps", "triton-config"), related, NOW)
    assert 'platform: "onnxruntime_onnx"' in config and value(config, "labels.bin") == "3 bytes"
    assert value(describe(recorded.named("namespaces", "doomed"), related, NOW),
                 "Status") == "Terminating"


def test_secrets_show_sizes_never_values(related):
    secret = recorded.named("secrets", "hf-token")
    text, yaml_text = describe(secret, related, NOW), to_yaml(secret)
    assert value(text, "token") == "19 bytes" and value(text, "user") == "6 bytes"
    for shown in (text, yaml_text):
        for encoded in secret["data"].values():
            assert encoded not in shown
        assert "hf_not-a-real-token" not in shown
    assert "managedFields" not in yaml_text and "<redacted>" in yaml_text


def test_events_and_custom_objects_print_field_by_field(related):
    event = recorded.items("events")[0]
    text = describe(event, related, NOW)
    assert value(text, "Kind") == "Event" and "Involved Object:" in text
    assert "\nEvents:" not in text  # an event has no events of its own
    assert "None" not in text


def test_without_a_lookup_the_object_stands_alone():
    text = describe(recorded.named("deployments", "triton"), NoRelated(), NOW)
    assert value(text, "Events") == "<none>" and value(text, "NewReplicaSet") == "<none>"


def test_times_do_not_depend_on_the_time_zone(related, monkeypatch):
    pod = recorded.named("pods-status-by-hand", "crashloop")
    utc = describe(pod, related, NOW)
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert describe(pod, related, NOW) == utc
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert "+0000" in utc and os.environ.get("TZ") != "America/Los_Angeles"
