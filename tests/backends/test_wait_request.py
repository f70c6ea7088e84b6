"""The wait and apply requests as a script gives them (pure), and kubectl's JSONPath templates
on jsonpath-ng."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_tui.backends.actions import ACTIONS
from mlops_tui.backends.actions.jsonpath import NotScalar, compile_path, scalar, translate

Wait = ACTIONS["wait"].request
Apply = ACTIONS["apply"].request


def problem(model, **args) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(args)
    return str(info.value)


def test_wait_takes_exactly_one_condition():
    request = Wait.model_validate({"kind": "deploy", "name": "web", "for": "rollout"})
    assert request.for_ == "rollout" and request.timeout == 300.0
    request = Wait.model_validate({"kind": "deploy", "name": "web", "timeout": "90s",
                                   "jsonpath": "{.status.replicas}", "equals": "2"})
    assert (request.jsonpath, request.equals, request.timeout) == ("{.status.replicas}", "2",
                                                                   90.0)
    # YAML gives numbers and booleans: compared as kubectl prints them
    for given, text in ((2, "2"), (True, "true"), (2.0, "2"), ("Running", "Running")):
        assert Wait.model_validate({"kind": "po", "name": "p", "jsonpath": "{.a}",
                                    "equals": given}).equals == text
    both = {"kind": "deploy", "name": "web", "for": "ready", "jsonpath": "{.a}"}
    assert "exactly one of 'for'" in problem(Wait, **both)
    assert "exactly one of 'for'" in problem(Wait, kind="deploy", name="web")
    assert "'equals' goes with 'jsonpath'" in problem(
        Wait, kind="deploy", name="web", equals="2", **{"for": "ready"})


@pytest.mark.parametrize(("args", "message"), [
    ({"for": "done"}, "Input should be 'rollout', 'ready', 'deleted' or 'model_ready'"),
    ({"for": "rollout", "timeout": "5 minutes"}, "must be a duration like 90s or 5m"),
    ({"for": "rollout", "timeout": 0}, "more than 0"),
    ({"jsonpath": "status.replicas"}, "must be a path like {.status.replicas}"),
    ({"jsonpath": "{.a}{.b}"}, "only one {...} path is supported"),
    ({"jsonpath": "{.a[0}"}, "unclosed '['"),
    ({"for": "rollout", "name": "../x"}, "invalid name '../x'"),
    ({"for": "rollout", "namespace": "a b"}, "invalid namespace"),
    ({"for": "rollout", "until": "later"}, "Extra inputs are not permitted"),
])
def test_wait_refuses_bad_requests_before_running(args, message):
    assert message in problem(Wait, **{"kind": "deploy", "name": "web", **args})


def test_apply_request():
    request = Apply.model_validate({"path": "manifests/"})
    assert (request.dry_run, request.diff, request.force, request.field_manager) == (
        False, True, False, None)
    assert "at least 1 character" in problem(Apply, path="")
    assert "at most 128 characters" in problem(Apply, path="x", field_manager="m" * 129)
    assert "should match pattern" in problem(Apply, path="x", field_manager="two words")
    assert "invalid namespace" in problem(Apply, path="x", namespace="A")


@pytest.mark.parametrize(("template", "translated"), [
    ("{.status.replicas}", '$."status"."replicas"'),
    (".status.replicas", '$."status"."replicas"'),
    ("{.items[0].metadata.name}", '$."items"[0]."metadata"."name"'),
    ('{.status.conditions[?(@.type=="Ready")].status}',
     '$."status"."conditions"[?(@.type=="Ready")]."status"'),
    ("{.metadata.labels.app\\.kubernetes\\.io/name}",
     '$."metadata"."labels"."app.kubernetes.io/name"'),
    ("{..name}", '$.."name"'),
    ("{.}", "$"),
])
def test_kubectl_templates_translate(template, translated):
    assert translate(template) == translated


OBJ = {"metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "triton"}},
       "spec": {"paused": False, "replicas": 2},
       "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "False"},
                                                {"type": "Ready", "status": "True"}]}}


@pytest.mark.parametrize(("template", "value"), [
    ("{.status.replicas}", "2"),
    ("{.spec.paused}", "false"),
    ('{.status.conditions[?(@.type=="Ready")].status}', "True"),
    ("{.metadata.labels.app\\.kubernetes\\.io/name}", "triton"),
    ("{.status.readyReplicas}", None),
])
def test_values_compare_as_kubectl_prints_them(template, value):
    assert scalar(compile_path(template), OBJ) == value


@pytest.mark.parametrize("template", ["{.status.conditions}", "{.status.conditions[*].type}"])
def test_a_wait_compares_one_scalar(template):
    with pytest.raises(NotScalar):
        scalar(compile_path(template), OBJ)
