"""``${VAR}`` substitution (environment over vars, defaults, escapes) and secret masking."""

from __future__ import annotations

import pytest

from mlops_tui.tui.script import ScriptError, load_text
from mlops_tui.tui.script.variables import MASK, Masker, VariableError, Variables, looks_secret


def name_of(text: str, env: dict[str, str]) -> str:
    return load_text(text, "ci.yaml", env=env).steps[0].name


def step(name: str, vars_: str = "{}") -> str:
    """A script whose one step is named ``name`` (a free-text field, substituted too)."""
    return f"vars: {vars_}\nsteps:\n  - name: '{name}'\n    get: {{kind: pods}}\n"


@pytest.mark.parametrize(("name", "vars_", "env", "expected"), [
    ("app=${APP}", "{APP: web}", {}, "app=web"),
    ("app=${APP}", "{APP: web}", {"APP": "api"}, "app=api"),  # the environment wins
    ("app=${APP:-dflt}", "{}", {}, "app=dflt"),
    ("app=${APP:-dflt}", "{}", {"APP": ""}, "app=dflt"),  # empty takes the default, as in sh
    ("app=${APP}", "{APP: ''}", {}, "app="),  # set but empty, no default: empty
    ("app=$${APP}x", "{}", {}, "app=${APP}x"),  # $${ is a literal ${
    ("app=$APP", "{}", {}, "app=$APP"),  # only ${...} is a reference
    ("tier=${A},app=${B}", "{A: x, B: y}", {}, "tier=x,app=y"),
    ("v=${N}", "{N: 3}", {}, "v=3"),
    ("v=${T}", "{T: true}", {}, "v=true"),  # as YAML wrote it, not Python's True
])
def test_substitution(name, vars_, env, expected):
    assert name_of(step(name, vars_), env) == expected


def test_a_substituted_string_validates_as_the_field_type():
    script = load_text('vars: {n: "3"}\nsteps:\n  - scale: {kind: deploy, name: w, '
                       'replicas: "${n}"}\n', env={})
    assert script.steps[0].request.replicas == 3


def test_vars_values_are_literal():
    assert name_of(step("a=${A}", "{A: '${B}', B: x}"), {}) == "a=${B}"


@pytest.mark.parametrize(("name", "expected"), [
    ("app=${NOPE}", "ci.yaml:3: steps[0].name: undefined variable ${NOPE} (set it in "
                    "vars or the environment, or give a default: ${NOPE:-value})"),
    ("app=${1X}", "ci.yaml:3: steps[0].name: bad variable reference ${1X}: a name is "
                  "letters, digits and '_', not starting with a digit"),
    ("app=${OPEN", "ci.yaml:3: steps[0].name: unclosed '${': write '$${' for a "
                   "literal '${'"),
])
def test_reference_errors_name_the_line(name, expected):
    with pytest.raises(ScriptError) as caught:
        load_text(step(name), "ci.yaml", env={})
    assert caught.value.lines() == [expected]


def test_an_unresolved_value_gets_no_second_error():
    # the selector's own check would refuse the raw '${NOPE}' text: only the cause is shown
    with pytest.raises(ScriptError) as caught:
        load_text("steps:\n  - get: {kind: pods, selector: 'app=${NOPE}'}\n", "ci.yaml", env={})
    assert caught.value.lines() == [
        "ci.yaml:2: steps[0].get.selector: undefined variable ${NOPE} (set it in vars or the "
        "environment, or give a default: ${NOPE:-value})"]


def test_keys_are_never_substituted():
    with pytest.raises(ScriptError) as caught:
        load_text("steps:\n  - ${ACTION}: {kind: pods}\n", "ci.yaml", env={"ACTION": "get"})
    assert "steps[0].${ACTION}: unknown action" in str(caught.value)


@pytest.mark.parametrize("name", ["API_TOKEN", "db_password", "MySecret", "ssh_key", "KEYRING"])
def test_secret_looking_names(name):
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["replicas", "NAMESPACE", "url", "monkey_business"])
def test_ordinary_names(name):
    assert looks_secret(name) is (name == "monkey_business")  # KEY inside 'monKEY': masked


def test_masker_masks_text_and_nested_data_longest_first():
    masker = Masker(["hunter2", "hunter2-long", ""])
    assert masker.text("a hunter2-long b hunter2") == f"a {MASK} b {MASK}"
    assert masker.data({"k hunter2": ["x", {"y": "hunter2"}], "n": 3}) == {
        f"k {MASK}": ["x", {"y": MASK}], "n": 3}
    assert not Masker([""]) and Masker(["x"])


def test_secrets_come_from_vars_environment_and_defaults():
    variables = Variables({"DB_PASSWORD": "p4ss", "plain": "visible"}, {"API_TOKEN": "t0k"})
    assert variables.substitute("${API_TOKEN}/${USER_KEY:-d3f}/${plain}") == "t0k/d3f/visible"
    masker = variables.masker()
    assert masker.text("p4ss t0k d3f visible") == f"{MASK} {MASK} {MASK} visible"


def test_an_unused_environment_secret_is_not_collected():
    variables = Variables({}, {"OTHER_TOKEN": "zzz"})
    assert variables.substitute("${HOME:-h}") == "h"
    assert variables.masker().text("zzz") == "zzz"


def test_variable_error_is_a_value_error():
    with pytest.raises(VariableError):
        Variables({}, {}).substitute("${MISSING}")


def test_secrets_are_masked_in_load_errors():
    # the secret becomes an invalid name: the message that quotes it must not show it
    text = "steps:\n  - scale: {kind: deploy, name: '${API_TOKEN}', replicas: 1}\n"
    with pytest.raises(ScriptError) as caught:
        load_text(text, "ci.yaml", env={"API_TOKEN": "Bad/Value!"})
    message = "\n".join(caught.value.lines())
    assert "Bad/Value!" not in message and MASK in message
    assert message.startswith("ci.yaml:2: steps[0].scale.name: invalid name")


def test_secrets_are_masked_in_the_plan_args():
    script = load_text("vars: {DB_PASSWORD: s3cr3t-pw}\nsteps:\n  - get: {kind: pods, "
                       "selector: 'pw=${DB_PASSWORD}'}\n", env={})
    assert script.masker.data(script.steps[0].args) == {"kind": "pods", "selector": f"pw={MASK}"}
