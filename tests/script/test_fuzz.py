"""Property-based fuzzing of the script loader: 10,000+ malformed files, no traceback.

Every generated file either loads (a mutation can land on a valid script) or raises
:class:`ScriptError` whose every line starts ``file:LINE:`` with a line inside the file.
Strategies stay cheap (templates, byte mutations) so the run fits in about a minute.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_tui.backends.actions import ACTIONS
from mlops_tui.tui.script import Script, ScriptError, load_text

EXAMPLES = 10_000
FILE = "fuzz.yaml"
LINE = re.compile(rf"^{re.escape(FILE)}:(\d+): ")

VALID = """\
namespace: demo
vars: {replicas: "2", API_TOKEN: hunter2}
prometheus: {url: "http://127.0.0.1:9090", rate_window: 1m}
steps:
  - name: the app
    get: {kind: pods, selector: app=web, expect_count: 2}
    timeout: 90s
  - scale: {kind: deployment, name: web, replicas: "${replicas}"}
    continue_on_error: true
  - logs: {name: web, expect: "ready", tail: 10}
"""

NASTY = ["99999999999999999999999999", "1.0e+999", "-1", ".nan", ".inf", "0x" + "f" * 40,
         "9" * 5000, "[/]", "[bold]x[/bold]", "[", "{", "}", "]", "'", '"', "*a", "&a",
         "!!python/object:os.system", "!!binary AAAA", "!foo", "<<: *a", "~", "null", "yes",
         "${X}", "${X:-d}", "$${X}", "${", "${1}", "${X", "\t", "- ", ": ", "? ", "|", ">",
         "---", "...", "%YAML 1.1", "#", "\\x00", "\u202e", "\ufeff", "👍", "", " ", "true",
         "[1, 2]", "{a: 1}", "0o777", "1:30", "2024-01-01", "90x", "8d", "0s", "-5m"]
KEYS = ["steps", "namespace", "context", "vars", "prometheus", "name", "timeout",
        "continue_on_error", "kind", "replicas", "selector", "expect", "tail", "url",
        "rate_window", *sorted(ACTIONS), "bogus", "Steps", "on", "<<", "1", ""]

token = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
key = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))


@st.composite
def templated(draw) -> str:
    """A script-shaped file with wrong values, keys and actions in it."""
    action = draw(st.sampled_from([*sorted(ACTIONS), "nope", "get ", "GET"]))
    lines = [f"{draw(key)}: {draw(token)}" for _ in range(draw(st.integers(0, 2)))]
    lines.append("steps:")
    for _ in range(draw(st.integers(0, 3))):
        args = ", ".join(f"{draw(key)}: {draw(token)}" for _ in range(draw(st.integers(0, 3))))
        lines.append(f"  - {action}: {{{args}}}")
        if draw(st.booleans()):
            lines.append(f"    {draw(key)}: {draw(token)}")
    return "\n".join(lines) + "\n"


@st.composite
def mutated(draw) -> bytes:
    """The valid script with a few bytes replaced, inserted or deleted."""
    data = bytearray(VALID.encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.one_of(st.integers(0, 255), st.sampled_from(list(b"[]{}:-'\"&*!\n\t#"))))
        if how == "replace":
            data[at] = byte
        elif how == "insert":
            data.insert(at, byte)
        else:
            del data[at]
    return bytes(data)


@st.composite
def nested(draw) -> str:
    depth = draw(st.integers(1, 3000))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
    if opener == "- ":
        return "steps:\n" + "".join(f"{' ' * (2 * i)}- \n" for i in range(min(depth, 120)))
    return f"steps: {opener * depth}x{closer * draw(st.integers(0, depth))}\n"


files = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    templated(),
    mutated(),
    nested(),
    st.builds(lambda n: f"steps:\n  - scale: {{kind: d, name: w, replicas: {n}}}\n",
              st.integers(-(10**40), 10**40)),
    st.builds(lambda t: f"steps:\n  - get: {{kind: pods, selector: '{t}'}}\n",
              st.sampled_from(NASTY)),
)


def test_ten_thousand_malformed_files_give_no_traceback():
    seen = {"files": 0, "errors": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(files)
    def check(data: bytes | str) -> None:
        seen["files"] += 1
        try:
            script = load_text(data, FILE, env={})
        except ScriptError as exc:
            seen["errors"] += 1
            size = len(data.splitlines()) if data else 0
            for line in exc.lines():
                match = LINE.match(line)
                if match is None:
                    assert re.match(rf"^{re.escape(FILE)}: \d+ more problems$", line), line
                    continue
                assert 1 <= int(match.group(1)) <= max(1, size + 1), (line, data)
                assert "\n" not in line
            return
        assert isinstance(script, Script) and script.steps  # a mutation that stayed valid

    check()
    assert seen["files"] >= EXAMPLES
    assert seen["errors"] >= EXAMPLES * 0.8
