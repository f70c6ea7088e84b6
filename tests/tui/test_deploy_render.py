"""The deploy wizard's pure parts: field checks, and what it draws from the actions' data as
the real servers sent it (recorded by tests/tui/record_deploy_data.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.tui.screens import deploy_form as form
from mlops_tui.tui.screens import deploy_render as render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy_screen"


def recorded(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_preview_of_a_real_dry_run_shows_yaml_then_the_diff():
    text, diff_line = render.preview_text(recorded("dry_run"))
    lines = text.plain.splitlines()
    assert lines[0] == "# 3 object(s), as the server's dry run returned them"
    assert "kind: Deployment" in lines and "kind: ConfigMap" in lines
    assert lines[diff_line] == "# diff against the cluster"
    assert lines[diff_line + 1] == "--- live/configmap/resnet-models"
    styles = {span.style for span in text.spans}
    assert "green" in styles  # added lines


def test_long_values_are_cut_in_the_preview():
    data = {"manifests": [{"kind": "ConfigMap", "binaryData": {"model.onnx": "A" * 100_000}}],
            "diff": "+" + "B" * 50_000}
    text, _ = render.preview_text(data)
    assert "(100,000 characters, not shown)" in text.plain
    assert "(50,001 characters, not shown)" in text.plain
    assert len(text.plain) < 2_000


def test_empty_diff_says_nothing_changes():
    text, _ = render.preview_text({"manifests": [], "diff": ""})
    assert "no changes: the cluster already has these objects" in text.plain


def test_verdict_of_the_scheduler_one_line_per_replica_coloured():
    verdict = render.verdict_of(recorded("verdict_unschedulable"))
    assert verdict is not None and verdict.state == "Failed"
    text = render.verdict_text(verdict)
    lines = text.plain.splitlines()
    assert lines[0].startswith("Failed: 0/2 Ready")
    assert len(lines) == 3
    assert all("Insufficient nvidia.com/gpu" in line for line in lines[1:])
    assert lines[1].lstrip().startswith("Failed") and lines[2].lstrip().startswith("Pending")
    assert {"bold red", "yellow"} <= {span.style for span in text.spans}


def test_verdict_under_the_deploy_ok_data():
    verdict = render.verdict_of({"objects": [], "verdict": {
        "state": "Ready", "summary": "1/1 replicas Ready",
        "replicas": [{"pod": "p", "state": "Ready", "reason": ""}]}})
    assert verdict is not None and verdict.replicas[0].pod == "p"
    assert render.verdict_of({"objects": []}) is None


def test_infer_result_of_a_real_request():
    rows, latency = render.infer_result(recorded("infer"))
    assert rows == [render.OutputRow("OUTPUT__0", "[1, 4]", "FP32", "[0, 0, 0, 0]")]
    assert latency == pytest.approx(155.061)


def test_loadtest_steps_of_a_real_sweep():
    data = recorded("loadtest")
    rows = render.loadtest_steps(data)
    assert [row.level for row in rows] == [1, 2, 4]
    assert all(row.requests > 0 and row.p50_ms <= row.p99_ms for row in rows)
    assert render.saved_paths(data) == ["results.json", "results.csv"]
    cells = render.step_cells(rows[0])
    assert [str(c) for c in cells][:2] == ["1", f"{rows[0].requests:,}"]


def test_error_counts_are_summed_and_red():
    row = render.loadtest_steps([{"level": 8, "throughput_rps": 1.0, "requests": 3,
                                  "errors": {"timeout": 2, "unavailable": 1}}])[0]
    assert row.errors == 3
    assert render.step_cells(row)[-1].style == "red"


garbage = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["manifests", "diff", "verdict", "state", "replicas", "summary",
                         "outputs", "latency_ms", "steps", "level", "throughput_rps",
                         "errors", "files", "pod", "reason", "shape", "name"]),
        inner, max_size=6),
    max_leaves=30)


@given(garbage)
def test_data_of_any_shape_never_raises(data):
    render.preview_text(data)
    verdict = render.verdict_of(data)
    if verdict is not None:
        render.verdict_text(verdict)
    render.infer_result(data)
    for row in render.loadtest_steps(data):
        render.step_cells(row)
    render.saved_paths(data)
    render.event_line(ActionEvent(EventKind.PROGRESS, "x", 0.5, data))


@pytest.mark.parametrize("text, problem", [
    ("0", None), ("1000", None), ("+5", None), ("007", None), ("-0", None),
    ("", "type a number of replicas"), ("-1", "replicas must be 0 or more"),
    ("1001", "replicas must be at most 1,000"), ("9" * 10_000, "at most 1,000"),
    ("1e3", "whole number"), ("٣", "whole number"), ("--1", "whole number"),
    ("0x10", "whole number"),
])
def test_count_problem(text, problem):
    found = form.count_problem(text, "replicas", 0, 1000)
    assert found is None if problem is None else problem in (found or "")


@pytest.mark.parametrize("text, levels, problem", [
    ("1, 4, 16", (1, 4, 16), None), ("1 2\t3", (1, 2, 3), None), ("4096", (4096,), None),
    ("0", (), "1 or more"), ("4097", (), "at most 4,096"), ("1,,2", (1, 2), None),
    ("a", (), "whole number"), ("", (), "type one or more"),
])
def test_parse_sweep(text, levels, problem):
    found, why = form.parse_sweep(text)
    assert found == levels
    assert why is None if problem is None else problem in (why or "")


@pytest.mark.parametrize("text, ok", [
    ("./model_repository", True), ("/abs/path", True), ("pvc://models/repo", True),
    ("pvc://models", True), ("s3://bucket/prefix", True), ("S3://bucket", True),
    ("pvc:///repo", False), ("gs://bucket", False), ("", False), ("a\x00b", False),
])
def test_repository_problem(text, ok):
    assert (form.repository_problem(text) is None) is ok


@pytest.mark.parametrize("text, ok", [
    ("nvcr.io/nvidia/tritonserver:24.10-py3", True), ("busybox", True),
    ("localhost:5000/a/b:1", True), ("x@sha256:" + "a" * 64, True),
    ("a b", False), ("UPPER/../x", False), ("", False), ("x:", False),
])
def test_image_problem(text, ok):
    assert (form.image_problem(text) is None) is ok


@pytest.mark.parametrize("repository, name", [
    ("./models/ResNet_50", "resnet-50"), ("pvc://claim/bert/", "bert"),
    ("./model_repository", "triton"), ("s3://b/" + "x" * 100, "x" * 63), ("./_/", ""),
])
def test_default_name(repository, name):
    assert form.default_name(repository) == name


def test_spec_problems_come_from_the_deploy_spec():
    checked = form.DeployForm(repository="./repo", name="resnet", model="m")
    assert checked.settings_problems() == {} and checked.spec_problems() == {}
    bad_claim = form.DeployForm(repository="pvc://Models/x", name="resnet", model="m")
    problems = bad_claim.spec_problems()  # not a field of the settings step: under ""
    assert list(problems) == [""] and "claim name 'Models'" in problems[""]


def test_control_characters_from_a_server_are_shown_not_sent():
    verdict = render.verdict_of({"state": "Failed", "summary": "x\x1b[2J", "replicas": [
        {"pod": "p\x9b1m", "state": "Failed", "reason": "Back-off\x1b]0;title\x07"}]})
    text = render.verdict_text(verdict).plain
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "x\ufffd[2J" in text and "Back-off\ufffd]0;title\ufffd" in text
    line = render.event_line(ActionEvent(EventKind.OUTPUT, "a\x1bb\tc\nd"))
    assert line is not None and line.plain == "a\ufffdb\tc\nd"
    rows, _ = render.infer_result({"outputs": [{"name": "o\x1b", "shape": [1],
                                                "datatype": "FP32", "preview": "\x1b[31m"}]})
    assert rows[0].name == "o\ufffd" and rows[0].preview == "\ufffd[31m"
