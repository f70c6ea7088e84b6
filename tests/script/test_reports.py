"""Reports stay well-formed and inert whatever an action or a server puts in them."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import subprocess
import sys
from xml.etree import ElementTree as ET

from mlops_tui.backends.actions import Failure
from mlops_tui.tui.script import JsonReporter, Status, StepResult, TextReporter, junit, load_text

HOSTILE = "\x1b[2J\x1b]0;pwned\x07 [bold]x[/] \x00\ud800 \x85 end"


def _script():
    return load_text("steps:\n  - get: {kind: pods}\n  - get: {kind: nodes}\n", "ci.yaml",
                     env={})


def test_junit_holds_control_characters_and_surrogates_as_valid_xml(tmp_path):
    script = _script()
    results = [StepResult(script.steps[0], Status.FAILED, 1.5, HOSTILE, None, Failure.CHECK,
                          [HOSTILE, "plain line"]),
               StepResult(script.steps[1], Status.SKIPPED, message="not run: step 1 failed")]
    path = tmp_path / "r.xml"
    junit.write(str(path), script, results, 2.0, 0.0)
    suite = ET.parse(path).getroot().find("testsuite")  # parses: the file is valid XML
    failure = suite.find("testcase/failure")
    assert failure.get("message").endswith("[bold]x[/] \ufffd\ufffd \x85 end")
    assert "\x00" not in path.read_text() and "\x1b" not in path.read_text()
    assert suite.find("testcase/system-out").text.endswith("plain line")
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed


def test_text_output_escapes_what_would_drive_the_terminal():
    script = _script()
    out = io.StringIO()
    TextReporter(script.masker, out, io.StringIO(), live=False).finish(
        StepResult(script.steps[0], Status.FAILED, 0.1, HOSTILE, failure=Failure.CHECK), 2)
    line = out.getvalue()
    assert "\x1b" not in line and "\x07" not in line and "\x00" not in line
    assert "\\x1b[2J" in line and "[bold]x[/]" in line  # shown as text, never as markup
    assert line.count("\n") == 1


@dataclasses.dataclass
class _Info:
    when: datetime.datetime
    tags: frozenset


def test_json_lines_take_any_data_and_stay_one_valid_object_per_line():
    script = _script()
    out = io.StringIO()
    data = {"info": _Info(datetime.datetime(2026, 1, 2, 3, 4, 5), frozenset({"a"})),
            "ratio": float("nan"), "raw": b"\xff bytes", 7: Failure.CHECK, "text": HOSTILE}
    JsonReporter(script.masker, out).finish(
        StepResult(script.steps[0], Status.OK, 0.25, "done", data), 2)
    (line,) = out.getvalue().splitlines()
    assert line.isascii()
    record = json.loads(line)
    assert record["data"] == {"info": {"when": "2026-01-02T03:04:05", "tags": ["a"]},
                              "ratio": None, "raw": "\ufffd bytes", "7": "check",
                              "text": HOSTILE.replace("\ud800", "\ufffd")}
    assert record["status"] == "ok" and record["error"] is None and record["duration_s"] == 0.25


def test_the_script_package_loads_no_ui_toolkit():
    code = ("import sys\n"
            "import mlops_tui.tui.script, mlops_tui.tui.script.cli\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'rich'))))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
