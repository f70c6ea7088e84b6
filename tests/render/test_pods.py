"""The pods table against ``kubectl get pods``: Kubernetes v1.20's printer (printPod).

Objects are JSON recorded from the real test apiserver (tests/render/recorder.py). The
recorded tables are the server's own printer output for the same objects: the API server
runs the code ``kubectl get`` prints (server-side printing), so they are the reference.
"""

from __future__ import annotations

import pytest

from mlops_tui.backends.render import pods
from tests.render import recorded
from tests.render.manifests import HAND_PODS

# READY, STATUS, RESTARTS worked out by hand from printPod in v1.20's printers.go. The pods'
# statuses were written by hand (tests/render/manifests.py): no kubelet runs on the test's
# fake nodes, so no pod there would ever leave Pending by itself.
BY_HAND = {
    "running": ("2/2", "Running", "1"),
    "running-not-ready": ("1/2", "Running", "0"),  # Running: no container has news
    "init-running": ("0/1", "Init:1/2", "0"),  # index of the first unfinished init container
    "init-waiting": ("0/1", "Init:0/1", "0"),  # waiting on PodInitializing is no reason
    # while initializing, restarts add up over the init containers up to the stuck one
    "init-crashloop": ("0/1", "Init:CrashLoopBackOff", "5"),
    "init-error": ("0/1", "Init:Error", "2"),
    "init-signal": ("0/1", "Init:Signal:9", "0"),
    "init-exitcode": ("0/1", "Init:ExitCode:3", "0"),
    # once initialized, only the app containers' restarts count (the init one had 2)
    "crashloop": ("0/1", "CrashLoopBackOff", "7"),
    "image-pull": ("0/1", "ImagePullBackOff", "0"),
    "signal": ("0/1", "Signal:15", "0"),
    "exitcode": ("0/1", "ExitCode:2", "0"),
    "oomkilled": ("0/1", "OOMKilled", "3"),
    "completed": ("0/1", "Completed", "0"),
    # a completed container beside a running one: Running if the pod is Ready, else NotReady
    "completed-sidecar-ready": ("1/2", "Running", "0"),
    "completed-sidecar-not-ready": ("1/2", "NotReady", "0"),
    "evicted": ("0/1", "Evicted", "0"),  # the pod's own reason beats its phase
    "terminating": ("1/1", "Terminating", "0"),
    "node-lost": ("1/1", "Unknown", "0"),  # deleted with reason NodeLost
}
POD_FILES = ("pods", "pods-status-by-hand", "pods-in-terminating-namespace")
COLUMNS = {"NAME": "Name", "READY": "Ready", "STATUS": "Status", "RESTARTS": "Restarts",
           "IP": "IP", "NODE": "Node", "AGE": "Age"}


def _cells(obj, now: float) -> dict[str, str]:
    row = pods.render(obj, now)
    return {col.name: text for col, text in zip(pods.COLUMNS, row.cells, strict=True)}


def test_every_state_written_by_hand_is_recorded():
    recorded_names = {p["metadata"]["name"] for p in recorded.items("pods-status-by-hand")}
    assert set(BY_HAND) == set(HAND_PODS) <= recorded_names


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_hand_written_states_print_as_kubectl_1_20_does(name):
    obj = recorded.named("pods-status-by-hand", name)
    cells = _cells(obj, 0)
    assert (cells["READY"], cells["STATUS"], cells["RESTARTS"]) == BY_HAND[name]
    assert pods.pod_phase(obj) == BY_HAND[name][1]


def test_the_servers_printer_agrees_with_the_hand_worked_values():
    for name, expected in BY_HAND.items():
        row = recorded.printed("pods", name)
        assert (row["Ready"], row["Status"], row["Restarts"]) == expected, name


@pytest.mark.parametrize("source", POD_FILES)
def test_every_recorded_pod_matches_the_servers_printer(source):
    kind = "pods-in-terminating-namespace" if source == POD_FILES[2] else "pods"
    before, after = recorded.asked_at(kind)
    objs = recorded.items(source)
    assert objs
    for obj in objs:
        name = obj["metadata"]["name"]
        printed = recorded.printed(kind, name)
        at_before, at_after = _cells(obj, before), _cells(obj, after)
        for ours, theirs in COLUMNS.items():
            # AGE was computed by the server between the two moments; the rest is timeless
            assert printed[theirs] in {at_before[ours], at_after[ours]}, (name, ours)


def test_a_pod_the_scheduler_cannot_place():
    cells = _cells(recorded.named("pods", "unschedulable"), 0)
    assert (cells["STATUS"], cells["NODE"], cells["IP"], cells["GPU"]) == (
        "Pending", "<none>", "<none>", "64")


def test_gpu_requests_and_row_colours():
    rows = {p["metadata"]["name"]: pods.render(p, 0) for f in POD_FILES
            for p in recorded.items(f)}
    gpu = [c.name for c in pods.COLUMNS].index("GPU")
    assert rows["pending-gpu"].cells[gpu] == "1" and rows["with-init"].cells[gpu] == ""
    colours = {name: rows[name].status for name in (
        "running", "running-not-ready", "crashloop", "init-crashloop", "init-running",
        "init-signal", "completed", "evicted", "pending-gpu")}
    assert colours == {
        "running": "ok", "running-not-ready": "warn", "crashloop": "error",
        "init-crashloop": "error", "init-running": "warn", "init-signal": "error",
        "completed": "done", "evicted": "error", "pending-gpu": "warn"}


def test_restarts_sort_as_numbers():
    rows = [pods.render(p, 0) for p in recorded.items("pods-status-by-hand")]
    restarts = [c.name for c in pods.COLUMNS].index("RESTARTS")
    assert max(rows, key=lambda r: r.sort_keys[restarts]).name == "crashloop"


def test_a_bare_pod_without_spec_or_status():
    # not something a server sends (it always fills both); a watch may carry a partial
    # object, and the renderer must not fail on one
    summary = pods.pod_summary({"metadata": {"name": "bare"}})
    assert summary == pods.PodSummary(0, 0, "", 0)
