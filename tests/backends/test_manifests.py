"""Reading manifest files for apply (pure: files in, checked objects or one-line errors out),
and the diff apply shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_tui.backends.actions import diff
from mlops_tui.backends.actions.manifests import MAX_NODES, load
from mlops_tui.backends.errors import ConfigError

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_directory_files_in_name_order_with_documents_and_lists(tmp_path):
    (tmp_path / "b.yml").write_text(CM.format(name="b1") + "---\n" + CM.format(name="b2"))
    (tmp_path / "a.yaml").write_text("# leading comment\n---\n" + CM.format(name="a"))
    (tmp_path / "c.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}}]}))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.yaml").write_text(CM.format(name="not-recursive"))
    (tmp_path / "empty.yaml").write_text("---\n---\n")
    found = load(str(tmp_path))
    assert [(m.name, m.source) for m in found] == [
        ("a", f"{tmp_path / 'a.yaml'}:3"),
        ("b1", f"{tmp_path / 'b.yml'}:1"),
        ("b2", f"{tmp_path / 'b.yml'}:6"),
        ("c", f"{tmp_path / 'c.json'}:1 (items[0])"),
    ]


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(CM.format(name="ok") + "---\napiVersion: v1\nkind: ConfigMap\n"
                    "metadata:\n  name: x\n  labels: {a: b\n")
    assert error_of(path).startswith(f"{path}:11: invalid YAML")


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "web.json"
    path.write_text('{\n  "apiVersion": "v1",\n  "kind": ConfigMap\n}')
    assert error_of(path) == f"{path}:3: invalid JSON: Expecting value"


@pytest.mark.parametrize(("text", "problem"), [
    ("- a\n- b\n", "a manifest must be a mapping, not a list"),
    ("just text\n", "a manifest must be a mapping, not a string"),
    ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion is missing"),
    ("apiVersion: a/b/c\nkind: X\n", "apiVersion 'a/b/c' is not GROUP/VERSION or VERSION"),
    ("apiVersion: v1\nmetadata: {name: x}\n", "kind is missing"),
    ("apiVersion: v1\nkind: '[red]x'\n", "kind '[red]x' is not a kind name"),
    ("apiVersion: v1\nkind: ConfigMap\n", "ConfigMap has no metadata"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: web-}\n",
     "ConfigMap has no metadata.name (generateName cannot be applied)"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../x}\n",
     "invalid ConfigMap name '../../x'"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: 'a b'}\n",
     "invalid namespace 'a b'"),
    ("apiVersion: v1\nkind: List\nitems: {a: 1}\n", "List.items must be a list"),
])
def test_malformed_objects_are_refused_with_where_and_why(tmp_path, text, problem):
    path = tmp_path / "m.yaml"
    path.write_text("# header\n" + text)
    assert error_of(path).startswith(f"{path}:2: {problem}")


def test_alias_bomb_is_refused_not_expanded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert error_of(path) == (f"{path}:1: the document expands to more than {MAX_NODES:,} "
                              "values (YAML aliases?)")


@pytest.mark.parametrize(("setup", "problem"), [
    (lambda p: None, "no such file or directory"),
    (lambda p: p.mkdir(), "no .yaml, .yml, .json files in this directory"),
    (lambda p: p.write_bytes(b"kind: \xff\xfe\n"), "not UTF-8 text (byte 6)"),
    (lambda p: p.write_text("apiVersion: v1\nkind: X\nmetadata: !!python/object:os.system {}\n"),
     "invalid YAML"),
])
def test_unreadable_paths(tmp_path, setup, problem):
    path = tmp_path / "thing"
    setup(path)
    assert problem in error_of(path)


@pytest.mark.parametrize(("path", "problem"), [
    ("a\0b", "a path cannot hold a NUL character"),
    ("~no-such-user-here/x.yaml", "unknown user in ~"),
    ("/" + "x" * 5000, "cannot read: File name too long"),
])
def test_impossible_paths(path, problem):
    with pytest.raises(ConfigError, match=problem):
        load(path)


# -- the diff -----------------------------------------------------------------------------------

LIVE = {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "uid": "1", "resourceVersion": "10",
                     "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}]},
        "data": {"mode": "fast"}}


def test_server_owned_fields_are_not_changes():
    merged = json.loads(json.dumps(LIVE))
    merged["metadata"].update(resourceVersion="11", generation=2, managedFields=[{"x": 1}])
    assert not diff.changed(LIVE, merged)
    assert diff.diff_lines(LIVE, merged, "configmap/c") == []


def test_diff_is_unified_yaml_of_what_changes():
    merged = json.loads(json.dumps(LIVE))
    merged["data"]["mode"] = "slow"
    assert diff.diff_lines(LIVE, merged, "configmap/c") == [
        "--- live/configmap/c", "+++ merged/configmap/c", "@@ -1,6 +1,6 @@",
        " apiVersion: v1", " data:", "-  mode: fast", "+  mode: slow", " kind: ConfigMap",
        " metadata:", "   name: c"]  # three lines of context, as kubectl diff's diff -u
    assert diff.diff_lines(None, merged, "configmap/c") == [
        "--- live/configmap/c", "+++ merged/configmap/c", "@@ -0,0 +1,7 @@",
        "+apiVersion: v1", "+data:", "+  mode: slow", "+kind: ConfigMap", "+metadata:",
        "+  name: c", "+  namespace: n"]


def test_secret_values_are_redacted_but_changes_still_show():
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"c2VjcmV0"}}'}},
        "data": {"same": "c2FtZQ==", "k": "c2VjcmV0"}}
    merged = json.loads(json.dumps(live))
    merged["data"]["k"] = "b3RoZXI="
    shown = diff.diff_lines(live, merged, "secret/s")
    assert "-  k: <redacted> (before)" in shown and "+  k: <redacted> (after)" in shown
    assert "   same: <redacted>" in shown
    text = "\n".join(shown)
    assert "c2VjcmV0" not in text and "b3RoZXI=" not in text and "c2FtZQ==" not in text
