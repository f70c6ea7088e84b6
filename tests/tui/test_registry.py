"""``:`` command parsing: kinds, namespaces, kubectl's selector forms, and what is refused."""

from __future__ import annotations

import pytest

from mlops_tui.tui.registry import Command, parse_command


@pytest.mark.parametrize("text, expected", [
    ("po", Command("po")),
    ("PO kube-system", Command("po", namespace="kube-system")),
    ("deploy -A", Command("deploy", namespace="")),
    ("deploy all", Command("deploy", namespace="")),
    ("po -n triton", Command("po", namespace="triton")),
    ("po --namespace=triton", Command("po", namespace="triton")),
    ("po /web", Command("po", filter_text="web")),
    ("po -l app=triton", Command("po", filter_text="-l app=triton")),
    ("po -l=app=triton", Command("po", filter_text="-l app=triton")),
    # set-based selectors as kubectl reads them, quoted or typed with spaces
    ("po -l 'app in (x,y)'", Command("po", filter_text="-l app in (x,y)")),
    ("po -l app in (x,y)", Command("po", filter_text="-l app in (x,y)")),
    ("po -l app in (x, y) kube-system",
     Command("po", namespace="kube-system", filter_text="-l app in (x, y)")),
    ("po -l 'env notin (a)'", Command("po", filter_text="-l env notin (a)")),
    ("po -l env notin (a),tier=web -n x",
     Command("po", namespace="x", filter_text="-l env notin (a),tier=web")),
    ("po -l app", Command("po", filter_text="-l app")),
    ("po -l '!app'", Command("po", filter_text="-l !app")),
    ("po -l app = web", Command("po", filter_text="-l app = web")),
    ("ns triton", Command("ns", argument="triton")),
    ("ctx demo-edge", Command("ctx", argument="demo-edge")),
    ("ctx Some_Kubeconfig@Context", Command("ctx", argument="Some_Kubeconfig@Context")),
    ("gpu", Command("gpu")),
])
def test_commands_that_run(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize("text, message", [
    ("po -l app in (x", "invalid selector: unbalanced parentheses in selector 'app in (x'"),
    ("po -l 'app in (x'", "invalid selector: unbalanced parentheses"),
    ("po -l a==b==c", "invalid selector: bad selector term"),
    ("po -l", "-l needs a label selector"),
    ("po -n", "-n needs a namespace"),
    ("po in", None),  # "in" is a fine namespace name on its own
    ("po [/]", "invalid namespace '[/]': must be lower-case"),
    ("po -n '[/]'", "invalid namespace '[/]'"),
    ("po -n 'a b/../../x?watch=1'", "invalid namespace 'a b/../../x?watch=1'"),
    ("po Kube-System", "invalid namespace 'Kube-System'"),
    ("po " + "a" * 64, "invalid namespace 'aaaa"),
    ("ns bad/ns", "invalid namespace 'bad/ns'"),
    ("po 'unclosed", "cannot read \"po 'unclosed\": no closing quotation"),
    ("po -x", "unknown flag '-x'"),
    ("po a b", "unexpected 'b' after 'a'"),
    ("po -l app=web /x", "one filter at a time"),
])
def test_commands_refused_with_a_reason(text, message):
    command = parse_command(text)
    assert command is not None
    if message is None:
        assert command.error == "" and command.namespace == "in"
        return
    assert command.error.startswith(message), command.error
    assert command.namespace is None and command.filter_text == ""  # nothing to act on


def test_blank_is_nothing_and_a_long_quote_is_cut():
    assert parse_command("") is None and parse_command("   ") is None
    command = parse_command("po -n " + "x/" * 500)
    assert command is not None and len(command.error) < 200
