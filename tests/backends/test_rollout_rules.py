"""The rollout and Ready rules on objects recorded from the real test apiserver.

tests/fixtures/rollout/ holds Deployments, StatefulSets and DaemonSets as the v1.20 server
and its controllers left them (tests/backends/record_rollout.py). The expected messages are
kubectl's own (``kubectl rollout status``, pkg/kubectl/polymorphichelpers/rollout_status.go),
written out here, not computed by the code under test. The few states the recorder cannot
reach are hand-edited copies made below, each saying what was changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlops_tui.backends.kinds import BUILTIN_KINDS, rollout_for
from mlops_tui.backends.render import rollout
from mlops_tui.backends.render.rollout import Status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


RECORDED = [
    ("deployment-unobserved", Status(False, "Waiting for deployment spec update to be "
                                            "observed...")),
    ("deployment-unavailable", Status(False, 'Waiting for deployment "web" rollout to finish: '
                                             "0 of 4 updated replicas are available...")),
    ("deployment-updating", Status(False, 'Waiting for deployment "web" rollout to finish: '
                                          "1 out of 4 new replicas have been updated...")),
    ("deployment-old-pending", Status(False, 'Waiting for deployment "web" rollout to '
                                             "finish: 1 old replicas are pending "
                                             "termination...")),
    ("deployment-deadline-exceeded", Status(False, 'deployment "stuck" exceeded its progress '
                                                   "deadline", failed=True)),
    ("deployment-complete", Status(True, 'deployment "web" successfully rolled out')),
    ("statefulset-unobserved", Status(False, "Waiting for statefulset spec update to be "
                                             "observed...")),
    ("statefulset-starting", Status(False, "Waiting for 2 pods to be ready...")),
    # the API server defaults rollingUpdate.partition to 0, so kubectl (and this rule)
    # report every apps/v1 StatefulSet as a partitioned roll out
    ("statefulset-updating", Status(False, "Waiting for partitioned roll out to finish: "
                                           "0 out of 2 new pods have been updated...")),
    ("statefulset-partitioned", Status(False, "Waiting for partitioned roll out to finish: "
                                              "0 out of 1 new pods have been updated...")),
    ("statefulset-complete", Status(True, "partitioned roll out complete: 2 new pods have "
                                          "been updated...")),
    ("statefulset-ondelete", Status(False, "rollout status is only available for "
                                           "RollingUpdate strategy type, not OnDelete", True)),
    ("daemonset-unobserved", Status(False, "Waiting for daemon set spec update to be "
                                           "observed...")),
    ("daemonset-unavailable", Status(False, 'Waiting for daemon set "agent" rollout to '
                                            "finish: 0 of 2 updated pods are available...")),
    ("daemonset-complete", Status(True, 'daemon set "agent" successfully rolled out')),
    ("daemonset-ondelete", Status(False, "rollout status is only available for "
                                         "RollingUpdate strategy type, not OnDelete", True)),
]


@pytest.mark.parametrize(("fixture", "expected"), RECORDED, ids=[f for f, _ in RECORDED])
def test_rollout_rule_on_recorded_objects(fixture, expected):
    obj = recorded(fixture)
    kind = next(k for k in BUILTIN_KINDS if k.kind == obj["kind"])
    assert rollout_for(kind.info()) is kind.rollout
    assert kind.rollout(obj) == expected


def test_only_workloads_with_a_rollout_have_a_rule():
    with_rule = {k.kind for k in BUILTIN_KINDS if k.rollout is not None}
    assert with_rule == {"Deployment", "StatefulSet", "DaemonSet"}


# -- hand-edited copies: states the recorder's cluster does not reach --------------------------

def test_statefulset_without_rolling_update_block_waits_for_revisions():
    # hand-edited: spec.updateStrategy.rollingUpdate removed (objects from older API
    # versions, or clients that strip defaults), so kubectl compares revisions instead
    obj = copy.deepcopy(recorded("statefulset-updating"))
    del obj["spec"]["updateStrategy"]["rollingUpdate"]
    status = obj["status"]
    assert rollout.statefulset(obj) == Status(
        False, "waiting for statefulset rolling update to complete 0 pods at revision "
               f"{status['updateRevision']}...")
    # hand-edited further: the controller finished (current revision caught up)
    status.update(currentRevision=status["updateRevision"], currentReplicas=2,
                  updatedReplicas=2)
    assert rollout.statefulset(obj) == Status(
        True, f"statefulset rolling update complete 2 pods at revision "
              f"{status['updateRevision']}...")


def test_deployment_spec_change_not_yet_observed():
    # hand-edited: generation bumped past observedGeneration (the moment between an
    # apply and the controller's next sync), on a rollout that was complete
    obj = copy.deepcopy(recorded("deployment-complete"))
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert rollout.deployment(obj) == Status(
        False, "Waiting for deployment spec update to be observed...")


def test_deployment_scaled_to_zero_is_rolled_out():
    # hand-edited: replicas 0 and the empty status the controller writes for it
    obj = copy.deepcopy(recorded("deployment-complete"))
    obj["spec"]["replicas"] = 0
    for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        obj["status"].pop(field)
    assert rollout.deployment(obj) == Status(True, 'deployment "web" successfully rolled out')


READY = [
    ("deployment-unobserved", Status(False, "waiting for the spec update to be observed")),
    ("deployment-unavailable", Status(False, "0/4 replicas ready")),
    ("deployment-complete", Status(True, "4/4 replicas ready")),
    ("statefulset-starting", Status(False, "0/2 replicas ready")),
    ("statefulset-complete", Status(True, "2/2 replicas ready")),
    ("daemonset-unobserved", Status(False, "waiting for the spec update to be observed")),
    ("daemonset-unavailable", Status(False, "0/2 replicas ready")),
    ("daemonset-complete", Status(True, "2/2 replicas ready")),
]


@pytest.mark.parametrize(("fixture", "expected"), READY, ids=[f for f, _ in READY])
def test_ready_from_replica_counts(fixture, expected):
    assert rollout.ready(recorded(fixture)) == expected


def test_ready_from_the_ready_condition():
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "status": {"conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
         "message": "containers with unready status: [main]"}]}}
    assert rollout.ready(pod) == Status(
        False, "Ready=False (ContainersNotReady: containers with unready status: [main])")
    pod["status"]["conditions"][1] = {"type": "Ready", "status": "True"}
    assert rollout.ready(pod) == Status(True, "Ready")


def test_ready_without_condition_or_counts_keeps_waiting():
    assert rollout.ready({"kind": "ConfigMap", "metadata": {"name": "c"}}) == Status(
        False, "no Ready condition yet")
