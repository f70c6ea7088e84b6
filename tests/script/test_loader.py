"""The script loader: every problem named by file, line and field, before anything runs."""

from __future__ import annotations

import pytest

from mlops_tui.backends.actions import ACTIONS
from mlops_tui.tui.script import ScriptError, load_text
from mlops_tui.tui.script.schema import DEFAULT_STEP_TIMEOUT

GOOD = """\
namespace: demo
vars: {replicas: "2"}
steps:
  - name: the app
    logs: {name: web, expect: "ready"}
    timeout: 90s
  - scale: {kind: deployment, name: web, replicas: "${replicas}"}
    continue_on_error: true
  - get: {kind: pods, selector: app=web, expect_count: 2}
  - drain:
      name: node-1
"""


def errors_of(text: str | bytes, env: dict | None = None) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        load_text(text, "ci.yaml", env=env or {})
    return caught.value.lines()


def test_a_valid_script_loads_with_typed_requests_and_lines():
    script = load_text(GOOD, "ci.yaml", env={})
    assert script.namespace == "demo"
    assert [(s.index, s.name, s.action, s.line) for s in script.steps] == [
        (1, "the app", "logs", 4), (2, "scale deployment/web", "scale", 7),
        (3, "get pods", "get", 9), (4, "drain node-1", "drain", 10)]
    first, scale, _, drain = script.steps
    assert first.timeout == 90.0 and not first.continue_on_error
    assert scale.request.replicas == 2  # "${replicas}" -> "2" -> int, by pydantic's lax mode
    assert scale.timeout == DEFAULT_STEP_TIMEOUT and scale.continue_on_error
    assert drain.request.name == "node-1"
    assert isinstance(scale.request, ACTIONS["scale"].request)


@pytest.mark.parametrize(("text", "expected"), [
    # the issue's own example of a message
    ("steps:\n  - get: {kind: pods}\n  - get: {kind: pods}\n"
     "  - logs:\n      name: web\n  - name: x\n    timeout: 90x\n    get: {kind: pods}\n",
     "ci.yaml:7: steps[3].timeout: must be a duration like 90s or 5m"),
    ("steps:\n  - scale: {kind: deploy, name: web, replicas: lots}\n",
     "ci.yaml:2: steps[0].scale.replicas: input should be a valid integer, unable to parse "
     "string as an integer"),
    ("steps:\n  - scale: {kind: deploy, name: web, replicas: 99999999999}\n",
     "ci.yaml:2: steps[0].scale.replicas: input should be less than or equal to 10000"),
    ("steps:\n  - scale: {kind: deploy, name: web}\n",
     "ci.yaml:2: steps[0].scale.replicas: required field missing"),
    ("steps:\n  - get:\n      kind: pods\n      colour: red\n",
     "ci.yaml:4: steps[0].get.colour: unknown field; known: all_namespaces, expect_count, "
     "field_selector, kind, name, namespace, output, selector"),
    ("steps:\n  - {}\n", "ci.yaml:2: steps[0]: the step has no action; a step needs "
                         f"exactly one of: {', '.join(sorted(ACTIONS))}"),
    ("steps:\n  - get: {kind: pods}\n    scale: {kind: deploy, name: a, replicas: 1}\n",
     "ci.yaml:2: steps[0]: a step has exactly one action, this one has 2: get, scale"),
    ("steps:\n  - get: [pods]\n",
     "ci.yaml:2: steps[0].get: the arguments of 'get' are a mapping, e.g. 'get: {...}'"),
    ("steps:\n  - just a string\n",
     "ci.yaml:2: steps[0]: a step is a mapping with one action key, e.g. '- get: {kind: pods}'"),
    ("steps: []\n", "ci.yaml:1: steps: list should have at least 1 item after validation, "
                    "not 0"),
    ("namespace: demo\n", "ci.yaml:1: steps: required field missing"),
    ("stepz: []\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:1: stepz: unknown field; known: context, namespace, prometheus, steps, vars"),
    ("namespace: Not_Valid\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:1: namespace: invalid namespace: must be lower-case letters, digits and '-', "
     "starting and ending with a letter or digit"),
    ("prometheus: ftp://x\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:1: prometheus.url: must be an http:// or https:// URL"),
    ("prometheus:\n  url: http://p:9090\n  rate_window: 5\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:3: prometheus.rate_window: must be a duration like 90s or 5m"),
    ("prometheus: {token: x}\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:1: prometheus.token: unknown field; known: bearer_token_file, ca_file, "
     "insecure_skip_tls_verify, password_file, rate_window, timeout, url, username"),
    ("vars: {1st: a}\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:1: vars.1st: a variable name is letters, digits and '_', not starting with a "
     "digit"),
    ("vars:\n  a: [1]\nsteps: [{get: {kind: pods}}]\n",
     "ci.yaml:2: vars.a: a variable's value must be a string, number or boolean"),
    ("steps:\n  - get: {kind: pods}\n    continue_on_error: maybe\n",
     "ci.yaml:3: steps[0].continue_on_error: input should be a valid boolean, unable to "
     "interpret input"),
    ("steps:\n  - get: {kind: pods}\n    timeout: 8d\n",
     "ci.yaml:3: steps[0].timeout: must be a duration like 90s or 5m, more than 0 and at "
     "most 7d"),
    ("steps:\n  - logs: {name: web, expect: '(unclosed'}\n",
     "ci.yaml:2: steps[0].logs.expect: not a valid regular expression: missing ), "
     "unterminated subpattern at position 0"),
])
def test_problems_name_file_line_and_field(text, expected):
    assert errors_of(text)[0] == expected


def test_unknown_action_lists_the_known_ones_and_suggests():
    (line,) = errors_of("steps:\n  - get: {kind: pods}\n  - scael: {name: web}\n")
    assert line.startswith("ci.yaml:3: steps[1].scael: unknown action; did you mean 'scale'? "
                           "known actions: ")
    assert line.endswith(", ".join(sorted(ACTIONS)))


def test_every_problem_is_reported_in_line_order():
    lines = errors_of("steps:\n  - get: {kind: pods, bogus: 1}\n  - nope: {}\n"
                      "  - scale: {kind: d, name: w, replicas: -1}\nextra: 1\n")
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4", "5"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "ci.yaml:1: the file is empty: a script needs 'steps'"),
    (b"# only a comment\n", "ci.yaml:1: the file is empty: a script needs 'steps'"),
    (b"- get: {kind: pods}\n", "ci.yaml:1: a script is a mapping with 'steps' (and optional "
                               "context, namespace, prometheus, vars), not a list"),
    (b"just text", "ci.yaml:1: a script is a mapping with 'steps' (and optional context, "
                   "namespace, prometheus, vars), not a single value"),
    (b"steps:\n  - get: {kind: pods}\nsteps: []\n",
     "ci.yaml:3: steps: duplicate key (first at line 1)"),
    (b"steps:\n  - get: {kind: pods, kind: nodes}\n",
     "ci.yaml:2: steps[0].get.kind: duplicate key (first at line 2)"),
    (b"steps: [{get: {kind: pods}}]\n---\nsteps: []\n",
     "ci.yaml:2: invalid YAML: only one YAML document is allowed (found a second '---')"),
    (b"steps:\n  - get: {kind: pods\n",
     "ci.yaml:3: invalid YAML: expected ',' or '}', but got '<stream end>' (while parsing a "
     "flow mapping)"),
    (b"steps:\n\t- get: x\n", "ci.yaml:2: invalid YAML: found character '\\t' that cannot "
                             "start any token (while scanning for the next token)"),
    (b"steps:\n  - get: {kind: \xff}\n", "ci.yaml:2: not UTF-8 text (byte 0xff)"),
    (b"a: 1\nb: \x00\x01\x02", "ci.yaml:2: binary data (a NUL byte): not a YAML text file"),
    (b"a: 1\nb: \x07", "ci.yaml:2: invalid YAML: character U+0007 is not allowed"),
    (b"steps: " + b"[" * 5000 + b"]" * 5000, "ci.yaml:1: nested deeper than 64 levels"),
    (b"x: " + b"9" * 5000 + b"\n", "ci.yaml:1: x: number too large"),
    (b"x: 1.0e+999\n", "ci.yaml:1: x: not a finite number"),
    (b"x: .nan\n", "ci.yaml:1: x: not a finite number"),
    (b"x: !!python/object/apply:os.system [ls]\n",
     "ci.yaml:1: x: unsupported tag !!python/object/apply:os.system"),
    (b"x: !!binary aGVsbG8=\n", "ci.yaml:1: x: unsupported tag !!binary"),
    (b"x: !custom 1\n", "ci.yaml:1: x: unsupported tag !custom"),
    (b"base: &b {kind: pods}\nsteps:\n  - get:\n      <<: *b\n",
     "ci.yaml:4: steps[0].get: merge keys (<<) are not supported: write the fields out"),
    (b"? [a, b]\n: c\n", "ci.yaml:1: a key must be a plain string"),
    (b"x: " + b"a" * (1 << 20), "ci.yaml:1: the file is larger than 1 MiB"),
])
def test_malformed_files_give_one_clear_line(data, expected):
    assert errors_of(data)[0] == expected


def test_alias_bombs_stop_at_the_node_budget():
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for name, prev in zip("bcdef", "abcde", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    (line,) = errors_of("\n".join(lines) + "\nsteps: [*f, *f]\n")
    assert line.startswith("ci.yaml:")
    assert line.endswith("more than 100000 values (after expanding aliases)")


def test_recursive_aliases_are_refused():
    (line,) = errors_of("a: &a [*a]\n")
    assert line.startswith("ci.yaml:1: a[0][0]") and line.endswith("nested deeper than 64 levels")


def test_aliases_within_the_budget_work():
    script = load_text("steps:\n  - get: &pods {kind: pods}\n  - get: *pods\n", env={})
    assert [s.request.kind for s in script.steps] == ["pods", "pods"]


def test_keys_stay_the_text_written():
    # YAML 1.1 reads a bare 'on' / 'yes' as a boolean; as a key it must stay a name
    (line,) = errors_of("steps:\n  - get: {kind: pods}\non: 1\n")
    assert line.startswith("ci.yaml:3: on: unknown field")


def test_a_date_stays_text():
    script = load_text("steps:\n  - get: {kind: pods, selector: 'a=b'}\n    name: 2024-01-01\n",
                       env={})
    assert script.steps[0].name == "2024-01-01"


def test_a_bom_and_crlf_line_ends_are_fine():
    script = load_text(b"\xef\xbb\xbfsteps:\r\n  - get: {kind: pods}\r\n", env={})
    assert script.steps[0].action == "get"


def test_too_many_problems_are_counted_not_all_printed():
    text = "steps:\n" + "".join(f"  - nope{i}: {{}}\n" for i in range(30))
    lines = errors_of(text)
    assert len(lines) == 21 and lines[-1] == "ci.yaml: 10 more problems"


def test_each_known_action_validates_through_its_own_request_model():
    # whatever ACTIONS holds (more land as features add them): an unknown field is refused
    # by each action's own model, at the line of that field
    for action in sorted(ACTIONS):
        lines = errors_of(f"steps:\n  - {action}:\n      zz_not_a_field: 1\n")
        assert any(line.startswith(f"ci.yaml:3: steps[0].{action}.zz_not_a_field: unknown "
                                   "field; known: ") for line in lines), (action, lines)


ISSUE_EXAMPLE = """\
namespace: demo
vars: {replicas: "2"}
steps:
  - name: the app
    apply: {path: manifests/web.yaml}
  - wait: {kind: deployment, name: web, jsonpath: "{.status.replicas}", equals: "2", timeout: 60s}
  - scale: {kind: deployment, name: web, replicas: "${replicas}"}
  - get: {kind: pods, selector: app=web, expect_count: 2}
  - assert_metric: {query: 'sum(rate(nv_inference_request_success[1m]))', op: ">", value: 0, for: 30s}
  - delete: {kind: deployment, name: web}
"""


def test_the_issue_example_is_a_valid_script():
    script = load_text(ISSUE_EXAMPLE, "ci.yaml", env={})
    assert [s.action for s in script.steps] == ["apply", "wait", "scale", "get", "assert_metric",
                                                "delete"]
    assert script.steps[2].request.replicas == 2
