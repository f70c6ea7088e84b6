"""The runner in-process: steps through the action layer on the demo backend, exit codes,
step timeouts, continue_on_error, reports, cancellation."""

from __future__ import annotations

import asyncio
import io
import json
from xml.etree import ElementTree as ET

import pytest

from mlops_tui.backends.actions import ACTIONS, ActionSpec, Request
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.script import (
    JsonReporter,
    RunOptions,
    TextReporter,
    load_text,
    run_script,
)
from tests.script.conftest import KEYS, STEADY_POD

HEAD = "namespace: kube-system\nsteps:\n"
NEVER = f"  - logs: {{name: {STEADY_POD}, expect: 'no such line, ever', tail: 1}}\n"


async def run(text: str, tmp_path, *, env: dict | None = None, actions=None,
              **options) -> tuple[int, list[dict], ET.Element]:
    script = load_text(text, "ci.yaml", env=env or {}, actions=actions)
    out = io.StringIO()
    junit = tmp_path / "report.xml"
    opts = RunOptions(backend="demo", cluster=BackendSettings(), junit=str(junit), **options)
    code = await run_script(script, opts, JsonReporter(script.masker, out, io.StringIO()))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all(set(r) == KEYS for r in records)
    return code, records, ET.parse(junit).getroot()


def results(records: list[dict]) -> list[tuple[int, str]]:
    return [(r["step"], r["status"]) for r in records
            if r["status"] in ("ok", "failed", "skipped", "cancelled")]


async def test_every_step_passes_exit_0(tmp_path):
    code, records, report = await run(
        HEAD + f"  - describe: {{kind: pods, name: {STEADY_POD}}}\n"
               f"  - logs: {{name: {STEADY_POD}, tail: 2}}\n"
               "  - get: {kind: nodes}\n", tmp_path)
    assert code == 0
    assert results(records) == [(1, "ok"), (2, "ok"), (3, "ok")]
    outputs = [r for r in records if r["status"] == "output"]
    assert len(outputs) == 2 and all(r["step"] == 2 and "line" in r["data"] for r in outputs)
    final = [r for r in records if r["status"] == "ok"]
    assert final[1]["data"] == {"lines": 2} and final[1]["error"] is None
    assert final[2]["data"]["count"] > 0 and final[2]["action"] == "get"
    suite = report.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"


async def test_a_failed_check_stops_the_run_exit_1(tmp_path):
    code, records, report = await run(
        HEAD + "  - get: {kind: pods, expect_count: 9999999}\n  - get: {kind: nodes}\n",
        tmp_path)
    assert code == 1
    assert results(records) == [(1, "failed"), (2, "skipped")]
    failed = records[0]
    assert failed["error"].startswith("expected 9999999 pods in kube-system, found ")
    assert failed["data"]["count"] >= 1  # the check's data travels with the failure
    assert records[1]["error"] == "not run: step 1 failed"
    cases = report.find("testsuite").findall("testcase")
    assert cases[0].find("failure").get("type") == "check"
    assert cases[1].find("skipped").get("message") == "not run: step 1 failed"


async def test_a_step_timeout_is_a_failed_check(tmp_path):
    code, records, report = await run(
        HEAD + NEVER.replace("\n", "\n    timeout: 300ms\n", 1), tmp_path)
    assert code == 1
    assert results(records) == [(1, "failed")]
    assert records[-1]["error"] == "timed out after 0.3s"
    assert 0.3 <= records[-1]["duration_s"] < 5
    failure = report.find("testsuite/testcase/failure")
    assert failure.get("type") == "cancelled" and failure.get("message") == "timed out after 0.3s"


async def test_continue_on_error_runs_on_but_the_exit_code_keeps_the_failure(tmp_path):
    code, records, _ = await run(
        HEAD + "  - get: {kind: pods, expect_count: 9999999}\n    continue_on_error: true\n"
               "  - get: {kind: nodes}\n", tmp_path)
    assert results(records) == [(1, "failed"), (2, "ok")]
    assert code == 1


async def test_an_environment_failure_exits_2(tmp_path):
    code, records, report = await run(HEAD + "  - get: {kind: widgets}\n  - get: {kind: nodes}\n",
                                      tmp_path)
    assert code == 2
    assert results(records) == [(1, "failed"), (2, "skipped")]
    assert records[0]["error"] == "unknown kind 'widgets'"
    assert report.find("testsuite/testcase/error").get("type") == "environment"


async def test_a_failed_connect_exits_2_and_still_writes_the_report(tmp_path):
    script = load_text(HEAD + "  - get: {kind: nodes}\n", "ci.yaml", env={})
    err = io.StringIO()
    junit = tmp_path / "r.xml"
    code = await run_script(script, RunOptions(backend="demo", junit=str(junit),
                                               cluster=BackendSettings(context="nope")),
                            TextReporter(script.masker, io.StringIO(), err, live=False))
    assert code == 2
    assert err.getvalue().startswith("error: ") and "nope" in err.getvalue()
    assert ET.parse(junit).getroot().find("testsuite/testcase/skipped").get("message") == (
        "not run: could not connect")


async def test_text_output_and_the_live_line(tmp_path):
    script = load_text(HEAD + f"  - logs: {{name: {STEADY_POD}, tail: 1}}\n"
                       + NEVER.replace("\n", "\n    timeout: 1200ms\n", 1), "ci.yaml", env={})
    out, err = io.StringIO(), io.StringIO()
    code = await run_script(script, RunOptions(backend="demo"),
                            TextReporter(script.masker, out, err, live=True))
    assert code == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"✓ 1/2 logs {STEADY_POD} (") and lines[0].endswith(
        f"1 log lines of kube-system/pods/{STEADY_POD}")
    assert lines[1].startswith(f"✗ 2/2 logs {STEADY_POD} (1.2s) timed out after 1.2s")
    assert lines[2].startswith("1 passed, 1 failed in ")
    live = err.getvalue()
    assert "\r\x1b[K" in live and f"2/2 logs {STEADY_POD}" in live
    assert live.endswith("\r\x1b[K")  # cleared before each result line


async def test_text_output_without_a_terminal_has_no_live_line(tmp_path):
    script = load_text(HEAD + "  - get: {kind: nodes}\n", "ci.yaml", env={})
    err = io.StringIO()
    await run_script(script, RunOptions(backend="demo"),
                     TextReporter(script.masker, io.StringIO(), err))  # StringIO: not a tty
    assert err.getvalue() == ""


async def test_cancelling_the_run_from_outside_cancels_the_step(tmp_path):
    script = load_text(HEAD + NEVER, "ci.yaml", env={})
    task = asyncio.ensure_future(run_script(script, RunOptions(backend="demo"),
                                            JsonReporter(script.masker, io.StringIO())))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


class _BrokenRequest(Request):
    near: str = ""


async def _broken(ctx, request):
    raise RuntimeError(f"a bug near {request.near}")
    yield  # an async generator, like every action


async def test_a_bug_in_an_action_is_a_failed_step_not_a_traceback(tmp_path, caplog):
    # A fake action: no real action raises a non-backend error on demand; this is the edge
    # case of a future action with a bug, which must still end as one clear failed step,
    # logged with its traceback but without the secret its message holds.
    actions = {**ACTIONS, "broken": ActionSpec("broken", _BrokenRequest, _broken, "a bug")}
    code, records, _ = await run(HEAD + "  - broken: {near: '${API_TOKEN}'}\n"
                                        "  - get: {kind: nodes}\n", tmp_path,
                                 env={"API_TOKEN": "s3cr3t-t0ken"}, actions=actions)
    assert code == 2
    assert results(records) == [(1, "failed"), (2, "skipped")]
    assert records[0]["error"] == "internal error: RuntimeError: a bug near ***"
    assert "Traceback" in caplog.text and "RuntimeError: a bug near ***" in caplog.text
    assert "s3cr3t-t0ken" not in caplog.text


async def test_secrets_are_masked_in_json_and_junit(tmp_path):
    code, records, report = await run(
        HEAD + "  - describe: {kind: pods, name: '${POD_TOKEN}'}\n"
               "  - logs: {name: '${POD_TOKEN}', tail: 3}\n"
               "  - get: {kind: pods, name: '${POD_TOKEN}', expect_count: 2}\n",
        tmp_path, env={"POD_TOKEN": STEADY_POD})
    assert code == 1
    text = json.dumps(records) + ET.tostring(report, encoding="unicode")
    assert STEADY_POD not in text
    assert records[0]["name"] == "describe pods/***" and "***" in records[0]["data"]
