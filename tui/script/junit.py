"""The JUnit XML report: one testsuite per script, one testcase per step.

A check failure (a wait timed out, an assertion false) is a ``<failure>``; an environment
failure (unreachable, refused, unknown kind) and an interruption are an ``<error>``; a step
that did not run is ``<skipped>``. The last output lines of a step go to ``<system-out>``.
The file is written to a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from xml.etree import ElementTree as ET

from mlops_tui.backends.actions import Failure
from mlops_tui.tui.script.loader import Script
from mlops_tui.tui.script.results import Status, StepResult
from mlops_tui.tui.script.variables import Masker

# characters XML 1.0 cannot hold at all (ElementTree would write them and break the file)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str, masker: Masker) -> str:
    return _NOT_XML.sub("\ufffd", masker.text(text))


def _problem_tag(result: StepResult) -> str | None:
    if result.status is Status.SKIPPED:
        return "skipped"
    if result.status is Status.CANCELLED or (
            result.status is Status.FAILED and result.failure is Failure.ENVIRONMENT):
        return "error"
    return "failure" if result.status is Status.FAILED else None


def build(script: Script, results: list[StepResult], elapsed: float,
          started: float) -> ET.Element:
    m = script.masker
    counts = {tag: 0 for tag in ("failure", "error", "skipped")}
    suite = ET.Element("testsuite", name=_xml(f"mlops-tui script {script.file}", m))
    for result in results:
        step = result.step
        case = ET.SubElement(suite, "testcase", name=_xml(f"{step.index}. {step.name}", m),
                             classname=_xml(f"{script.file}.{step.action}", m),
                             file=_xml(script.file, m), line=str(step.line),
                             time=f"{result.duration_s:.3f}")
        tag = _problem_tag(result)
        if tag is not None:
            counts[tag] += 1
            kind = result.failure.value if result.failure else result.status.value
            element = ET.SubElement(case, tag, message=_xml(result.message, m))
            if tag != "skipped":
                element.set("type", kind)
                element.text = _xml(result.message, m)
        if result.output:
            ET.SubElement(case, "system-out").text = _xml("\n".join(result.output), m)
    suite.set("tests", str(len(results)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{elapsed:.3f}")
    suite.set("timestamp", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)))
    root = ET.Element("testsuites", name="mlops-tui", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"),
                      skipped=suite.get("skipped", "0"), time=suite.get("time", "0"))
    root.append(suite)
    return root


def write(path: str, script: Script, results: list[StepResult], elapsed: float,
          started: float) -> None:
    """Write the report to ``path``.

    Raises:
        OSError: the file cannot be written.
    """
    tree = ET.ElementTree(build(script, results, elapsed, started))
    ET.indent(tree)
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tree.write(temp, encoding="utf-8", xml_declaration=True)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
