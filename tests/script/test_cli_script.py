"""The real ``mlops-tui --script`` binary: plan, JSON lines, JUnit, exit codes 0/1/2, and
SIGINT / SIGTERM during a long step (130 / 143), with the demo backend as the cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from xml.etree import ElementTree as ET

import pytest

from tests.script.conftest import BINARY, STEADY_POD, json_lines, run_cli

SCRIPT = f"""\
namespace: kube-system
vars: {{tail: "2"}}
steps:
  - name: the etcd pod
    describe: {{kind: pods, name: {STEADY_POD}}}
  - logs: {{name: {STEADY_POD}, tail: "${{tail}}"}}
  - get: {{kind: nodes}}
"""
LONG = f"""\
namespace: kube-system
steps:
  - get: {{kind: nodes}}
  - logs: {{name: {STEADY_POD}, expect: 'no such line, ever', tail: 1}}
  - get: {{kind: nodes}}
"""


@pytest.fixture
def script(tmp_path):
    def write(text: str, name: str = "ci.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_dry_run_prints_the_plan_and_connects_to_nothing(script, cli_env):
    # the kubernetes backend with no kubeconfig at all: any connection attempt would fail
    result = run_cli(["--script", script(SCRIPT), "--dry-run"], cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].endswith("ci.yaml: 3 steps (dry run, nothing sent)")
    assert lines[1] == (f"  1. the etcd pod: describe {{\"kind\": \"pods\", \"name\": "
                        f"\"{STEADY_POD}\"}}  [timeout 10m00s]")
    assert lines[2] == f'  2. logs {STEADY_POD}: logs {{"name": "{STEADY_POD}", "tail": "2"}}' \
                       "  [timeout 10m00s]"
    assert result.stderr == b""


def test_dry_run_json(script, cli_env):
    result = run_cli(["--script", script(SCRIPT), "--dry-run", "-o", "json"], cli_env)
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert [(r["step"], r["status"], r["action"]) for r in records] == [
        (1, "planned", "describe"), (2, "planned", "logs"), (3, "planned", "get")]
    assert records[1]["data"] == {"args": {"name": STEADY_POD, "tail": "2"}, "timeout_s": 600.0,
                                  "continue_on_error": False}


def test_a_passing_script_exits_0_with_json_lines_and_junit(script, cli_env, tmp_path):
    report = tmp_path / "out" / "report.xml"
    report.parent.mkdir()
    result = run_cli(["--demo", "--script", script(SCRIPT), "-o", "json", "--junit",
                      str(report)], cli_env)
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    finals = [r for r in records if r["status"] not in ("output", "progress", "warning")]
    assert [(r["step"], r["name"], r["status"]) for r in finals] == [
        (1, "the etcd pod", "ok"), (2, f"logs {STEADY_POD}", "ok"), (3, "get nodes", "ok")]
    assert all(isinstance(r["duration_s"], float) and r["error"] is None for r in finals)
    assert finals[0]["data"].startswith("Name:") and finals[1]["data"] == {"lines": 2}
    assert sum(r["status"] == "output" for r in records) == 2
    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites"
    assert suite.get("name") == f"mlops-tui script {tmp_path / 'ci.yaml'}"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("3", "0", "0", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["1. the etcd pod", f"2. logs {STEADY_POD}",
                                              "3. get nodes"]
    assert [c.get("line") for c in cases] == ["4", "6", "7"]
    assert len(cases[1].find("system-out").text.splitlines()) == 2


def test_a_failed_check_exits_1_in_text(script, cli_env):
    text = SCRIPT.replace("get: {kind: nodes}", "get: {kind: nodes, expect_count: 9999999}")
    result = run_cli(["--demo", "--script", script(text)], cli_env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("✓ 1/3 the etcd pod (")
    assert lines[2].startswith("✗ 3/3 get nodes (") and "expected 9999999 nodes, found " in lines[2]
    assert lines[3].startswith("2 passed, 1 failed in ")


@pytest.mark.parametrize(("args", "text", "message"), [
    (["--demo"], "steps:\n  - get: {kind: widgets}\n", "unknown kind 'widgets'"),
    (["--demo", "--context", "nope"], "steps:\n  - get: {kind: nodes}\n", "error: "),
    ([], "steps:\n  - get: {kind: nodes}\n", "error: "),  # no kubeconfig anywhere
])
def test_environment_errors_exit_2(script, cli_env, args, text, message):
    result = run_cli([*args, "--script", script(text)], cli_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in (result.stdout + result.stderr).decode()
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(("text", "expected"), [
    (b"steps:\n  - get: {kind: pods}\n  - wait: {kind: deploy, name: web, timeout: 90x}\n",
     ":3: steps[1].wait.timeout: must be a duration like 90s or 5m"),
    (b"steps: [[[[", ":1: invalid YAML: "),
    (b"\x89PNG\r\n\x1a\n\x00\x00", ":3: binary data (a NUL byte): not a YAML text file"),
    (b"steps:\n  - get: {kind: '[bold]x[/]', bogus: '[/]'}\n",
     ":2: steps[0].get.bogus: unknown field; known: "),
    (b"steps:\n  - frobnicate: {}\n", ":2: steps[0].frobnicate: unknown action; known actions: "),
])
def test_bad_files_exit_2_with_one_line(script, cli_env, tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    result = run_cli(["--demo", "--script", str(path)], cli_env)
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith(f"{path}{expected}"), line
    assert result.stdout == b""


def test_script_from_stdin(cli_env):
    result = run_cli(["--demo", "--script", "-", "-o", "json"], cli_env,
                     stdin=b"steps:\n  - get: {kind: nodes}\n")
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[-1]["status"] == "ok"
    bad = run_cli(["--demo", "--script", "-"], cli_env, stdin=b"steps: 3\n")
    assert bad.returncode == 2
    assert bad.stderr.decode().startswith("<stdin>:1: steps: input should be a valid list")


@pytest.mark.parametrize(("args", "message"), [
    (["--dry-run"], "error: --dry-run, --output and --junit go with --script FILE"),
    (["--junit", "r.xml"], "error: --dry-run, --output and --junit go with --script FILE"),
    (["-o", "json"], "error: --dry-run, --output and --junit go with --script FILE"),
    (["--script", "x.yaml", "-o", "xml"], "error: argument -o/--output: invalid choice: 'xml'"),
    (["--script", "/nonexistent/ci.yaml"],
     "error: cannot read script /nonexistent/ci.yaml: No such file or directory"),
])
def test_usage_errors_exit_2(cli_env, args, message):
    result = run_cli(args, cli_env)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert b"Traceback" not in result.stderr


def test_help_shows_the_script_flags_and_an_example(cli_env):
    help_text = run_cli(["--help"], cli_env).stdout.decode()
    for part in ("Script options", "--script FILE", "--dry-run", "-o, --output FORMAT",
                 "--junit FILE", "mlops-tui --script ci.yaml -o json --junit report.xml",
                 "step, name, action, status, duration_s, data, error"):
        assert part in help_text, part


def test_a_secret_never_appears_in_any_output(script, cli_env, tmp_path):
    env = {**cli_env, "POD_TOKEN": STEADY_POD}
    text = ("namespace: kube-system\nvars: {DB_PASSWORD: correct-horse}\nsteps:\n"
            "  - describe: {kind: pods, name: '${POD_TOKEN}'}\n"
            "  - logs: {name: '${POD_TOKEN}', tail: 5}\n"
            "  - name: 'uses ${DB_PASSWORD}'\n"
            "    get: {kind: pods, name: '${POD_TOKEN}', expect_count: 2}\n")
    path = script(text)
    seen = []
    for extra in ([], ["-o", "json"], ["--dry-run"], ["--dry-run", "-o", "json"]):
        report = tmp_path / f"r{len(seen)}.xml"
        result = run_cli(["--demo", "--script", path, "--junit", str(report), *extra], env)
        assert result.returncode == (0 if "--dry-run" in extra else 1), result.stderr
        seen.append(result.stdout + result.stderr)
        if report.exists():
            seen.append(report.read_bytes())
    everything = b"\n".join(seen)
    assert b"***" in everything
    assert STEADY_POD.encode() not in everything and b"correct-horse" not in everything


def _start_long(script_path: str, env: dict, junit: str) -> tuple[subprocess.Popen, list]:
    proc = subprocess.Popen([BINARY, "--demo", "--script", script_path, "-o", "json",
                             "--junit", junit], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the long step (2) is under way
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if seen[-1]["step"] == 2 and seen[-1]["status"] == "output":
            return proc, seen
    proc.kill()
    pytest.fail(f"the long step never started: {seen} {proc.stderr.read()}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_cancels_the_step_records_the_rest_and_exits_128_plus(script, cli_env,
                                                                      tmp_path, signum, code):
    report = tmp_path / "r.xml"
    proc, seen = _start_long(script(LONG), cli_env, str(report))
    started = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert time.monotonic() - started < 10  # cancelled, not waited out
    name = signal.Signals(signum).name
    records = seen + [json.loads(line) for line in out.splitlines()]
    finals = [(r["step"], r["status"], r["error"]) for r in records
              if r["status"] in ("ok", "failed", "skipped", "cancelled")]
    assert finals == [(1, "ok", None), (2, "cancelled", f"cancelled by {name}"),
                      (3, "skipped", f"not run: interrupted by {name}")]
    assert "Traceback" not in err
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "1")
    error = suite.findall("testcase")[1].find("error")
    assert error.get("type") == "cancelled" and error.get("message") == f"cancelled by {name}"


def test_a_reader_that_goes_away_stops_the_output_not_the_run(script, cli_env, tmp_path):
    # `mlops-tui --script ... -o json | head -1`: the steps still run, the report is written
    text = (f"namespace: kube-system\nsteps:\n  - get: {{kind: nodes}}\n"
            f"  - logs: {{name: {STEADY_POD}, expect: healthz, tail: 0}}\n"
            "  - get: {kind: nodes}\n")
    report = tmp_path / "r.xml"
    proc = subprocess.Popen([BINARY, "--demo", "--script", script(text), "-o", "json",
                             "--junit", str(report)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cli_env)
    assert json.loads(proc.stdout.readline())["step"] == 1
    proc.stdout.close()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
