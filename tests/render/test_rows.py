"""Rows of every other built-in kind against the server's own v1.20 printer, column by column
where our table and ``kubectl get`` share a column, and ages as kubectl words them."""

from __future__ import annotations

import pytest

from mlops_tui.backends.models import format_age
from mlops_tui.backends.render import core, workloads
from tests.render import recorded

# kind -> (our columns, renderer, {our column: the server table's column})
SHARED = {
    "deployments": (workloads.DEPLOYMENT_COLUMNS, workloads.render_deployment,
                    {"NAME": "Name", "READY": "Ready", "UP-TO-DATE": "Up-to-date",
                     "AVAILABLE": "Available", "AGE": "Age"}),
    "statefulsets": (workloads.STATEFULSET_COLUMNS, workloads.render_statefulset,
                     {"NAME": "Name", "READY": "Ready", "AGE": "Age"}),
    "daemonsets": (workloads.DAEMONSET_COLUMNS, workloads.render_daemonset,
                   {"DESIRED": "Desired", "CURRENT": "Current", "READY": "Ready",
                    "UP-TO-DATE": "Up-to-date", "AVAILABLE": "Available", "AGE": "Age"}),
    "replicasets": (workloads.REPLICASET_COLUMNS, workloads.render_replicaset,
                    {"DESIRED": "Desired", "CURRENT": "Current", "READY": "Ready",
                     "AGE": "Age"}),
    "jobs": (workloads.JOB_COLUMNS, workloads.render_job,
             {"COMPLETIONS": "Completions", "DURATION": "Duration", "AGE": "Age"}),
    "cronjobs": (workloads.CRONJOB_COLUMNS, workloads.render_cronjob,
                 {"SCHEDULE": "Schedule", "SUSPEND": "Suspend", "ACTIVE": "Active",
                  "LAST SCHEDULE": "Last Schedule", "AGE": "Age"}),
    "services": (core.SERVICE_COLUMNS, core.render_service,
                 {"TYPE": "Type", "CLUSTER-IP": "Cluster-IP", "EXTERNAL-IP": "External-IP",
                  "PORTS": "Port(s)", "AGE": "Age"}),
    "events": (core.EVENT_COLUMNS, core.render_event,
               {"LAST SEEN": "Last Seen", "TYPE": "Type", "REASON": "Reason",
                "OBJECT": "Object", "COUNT": "Count", "MESSAGE": "Message"}),
    "persistentvolumeclaims": (core.PVC_COLUMNS, core.render_pvc,
                               {"STATUS": "Status", "VOLUME": "Volume",
                                "CAPACITY": "Capacity", "ACCESS MODES": "Access Modes",
                                "STORAGECLASS": "StorageClass", "AGE": "Age"}),
    "configmaps": (core.CONFIGMAP_COLUMNS, core.render_configmap,
                   {"DATA": "Data", "AGE": "Age"}),
    "nodes": (core.NODE_COLUMNS, core.render_node,
              {"STATUS": "Status", "ROLES": "Roles", "VERSION": "Version",
               "INTERNAL-IP": "Internal-IP", "AGE": "Age"}),
    "namespaces": (core.NAMESPACE_COLUMNS, core.render_namespace,
                   {"STATUS": "Status", "AGE": "Age"}),
}


@pytest.mark.parametrize("kind", sorted(SHARED))
def test_shared_columns_match_the_servers_printer(kind):
    columns, render, shared = SHARED[kind]
    before, after = recorded.asked_at(kind)
    objs = recorded.items(kind)
    assert len(objs) == len(recorded.tables()[kind]["rows"])
    for obj in objs:
        name = obj["metadata"]["name"]
        printed = recorded.printed(kind, name)
        early, late = render(obj, before), render(obj, after)
        for ours, theirs in shared.items():
            # ages and durations were computed by the server between the two moments
            assert printed[theirs] in {recorded.cell(columns, early, ours),
                                       recorded.cell(columns, late, ours)}, (name, ours)


def test_the_recording_holds_the_states_worth_printing():
    status = {n: recorded.printed("nodes", n)["Status"] for n in recorded.tables()["nodes"][
        "rows"]}
    assert {"Ready", "NotReady", "Ready,SchedulingDisabled"} <= set(status.values())
    assert recorded.printed("namespaces", "doomed")["Status"] == "Terminating"
    assert {recorded.printed("services", s)["External-IP"] for s in (
        "triton", "triton-lb", "triton-ext-ip", "models-bucket")} == {
        "<none>", "<pending>", "203.0.113.7", "models.example.com"}
    assert {recorded.printed("jobs", j)["Completions"] for j in ("done", "queue")} == {
        "1/1", "0/1 of 3"}
    assert recorded.printed("persistentvolumeclaims", "models")["Status"] == "Bound"
    assert recorded.printed("cronjobs", "paused")["Suspend"] == "True"


def test_gpu_columns_of_nodes_and_workloads():
    by_node = {n["metadata"]["name"]: n for n in recorded.items("nodes")}
    a100 = core.render_node(by_node["gpu-a100-1"], 0, gpu_requested=3)
    mig = core.render_node(by_node["gpu-mig-1"], 0)
    cpu = core.render_node(by_node["cpu-1"], 0)
    cols = core.NODE_COLUMNS
    assert [recorded.cell(cols, a100, c) for c in ("GPU", "GPU-REQ", "GPU-TYPE")] == [
        "4", "3/4", "NVIDIA-A100-SXM4-80GB"]
    assert [recorded.cell(cols, mig, c) for c in ("GPU", "GPU-REQ")] == ["7×1g.10gb", "0/7"]
    assert [recorded.cell(cols, cpu, c) for c in ("GPU", "GPU-REQ")] == ["", ""]
    deploy = workloads.render_deployment(recorded.named("deployments", "triton"), 0)
    assert recorded.cell(workloads.DEPLOYMENT_COLUMNS, deploy, "GPU/POD") == "1"


def test_secret_rows_count_keys_and_never_hold_a_value():
    for obj in recorded.items("secrets"):
        row = core.render_secret(obj, 0)
        keys = recorded.cell(core.SECRET_COLUMNS, row, "KEYS").split(",")
        assert str(len(keys)) == recorded.printed("secrets", obj["metadata"]["name"])["Data"]
        for value in obj["data"].values():
            assert value not in repr(row)


# HumanDuration in apimachinery's util/duration (v1.20), case by case
AGES = [
    (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (599, "9m59s"), (600, "10m"),
    (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 5 * 60, "3h5m"),
    (8 * 3600 - 60, "7h59m"), (8 * 3600 + 59 * 60, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (7 * 86400 + 23 * 3600, "7d23h"),
    (8 * 86400 + 5 * 3600, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"),
    (2 * 365 * 86400 + 5 * 86400, "2y5d"), (8 * 365 * 86400, "8y"),
]


@pytest.mark.parametrize(("seconds", "text"), AGES)
def test_ages_are_worded_as_kubectl_words_them(seconds, text):
    assert format_age(seconds) == text


def test_jobs_and_cron_jobs_in_shapes_the_recording_lacks():
    # edited by hand from recorded objects: a server fills these fields in, so it never
    # returns them unset; printJob / printCronJob say what kubectl prints when they are
    job = recorded.named("jobs", "queue")
    job["spec"]["parallelism"] = 1  # one pod at a time, no completion count
    row = workloads.render_job(job, 0)
    assert recorded.cell(workloads.JOB_COLUMNS, row, "COMPLETIONS") == "0/1"
    cron = recorded.named("cronjobs", "nightly")
    del cron["spec"]["suspend"]
    row = workloads.render_cronjob(cron, 0)
    assert recorded.cell(workloads.CRONJOB_COLUMNS, row, "SUSPEND") == "<unset>"
