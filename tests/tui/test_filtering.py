"""k9s filter semantics of tui.filtering: pure, no app needed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mlops_tui.backends.models import Row
from mlops_tui.tui.filtering import (
    SCANS,
    LabelRequirement,
    compile_filter,
    label_text,
    parse_filter,
    parse_selector,
)


def row(name: str, ns: str = "default", labels: dict[str, str] | None = None, *extra: str) -> Row:
    return Row(
        uid=f"{ns}/{name}", name=name, namespace=ns, cells=(ns, name, *extra), labels=labels or {}
    )


ROWS = [
    row("nginx-7d9f", "web", {"app": "nginx", "tier": "web"}, "Running"),
    row("nginx-canary", "web", {"app": "nginx", "tier": "canary"}, "Pending"),
    row("api-server", "backend", {"app": "api", "tier": "api"}, "Running"),
    row("Trainer-0", "ml", {"app": "trainer"}, "CrashLoopBackOff"),
    row("busybox", "default", {}, "Completed"),
    row("odd[name]", "default", {"team": "x"}, "Running"),
]


def names(text: str) -> list[str]:
    match = compile_filter(text)
    return [r.name for r in ROWS if match(r)]


def test_empty_and_blank_match_everything() -> None:
    assert names("") == [r.name for r in ROWS]
    assert names("   ") == [r.name for r in ROWS]
    assert parse_filter("").matches_all


def test_plain_text_is_case_insensitive_substring() -> None:
    assert names("NGINX") == ["nginx-7d9f", "nginx-canary"]
    assert names("trainer") == ["Trainer-0"]
    assert parse_filter("nginx").kind == "literal"


def test_regex_searched_in_search_text() -> None:
    assert names("^backend") == ["api-server"]
    assert names("ngi.x-[0-9]") == ["nginx-7d9f"]
    assert names("crash|pending") == ["nginx-canary", "Trainer-0"]
    assert names(r"\bRUNNING$") == ["nginx-7d9f", "api-server", "odd[name]"]
    assert parse_filter("^web").kind == "regex"


@pytest.mark.parametrize("text", [r"\S+ nginx", r"\Dtrainer", r"[Z-a]", r"\x41PI", r"\bRUN"])
def test_regexes_that_lowering_would_break_still_match_case_insensitively(text: str) -> None:
    spec = parse_filter(text)
    assert spec.kind == "regex" and not spec.error
    reference = [r.name for r in ROWS if re.search(text, r.search_text, re.IGNORECASE)]
    assert names(text) == reference
    assert reference  # each one does match something


@pytest.mark.parametrize("text", ["[unclosed", "(", "odd[", "*", "+x", "\\"])
def test_invalid_regex_falls_back_to_literal_and_never_raises(text: str) -> None:
    spec = parse_filter(text)
    assert spec.kind == "literal" and spec.error
    compile_filter(text)(ROWS[0])  # no exception
    assert names("odd[") == ["odd[name]"]
    assert names("ODD[NAME") == ["odd[name]"]


def test_bang_inverts() -> None:
    assert names("!nginx") == ["api-server", "Trainer-0", "busybox", "odd[name]"]
    assert names("!^web|^ml") == ["api-server", "busybox", "odd[name]"]
    assert names("!") == [r.name for r in ROWS]  # still typing
    assert names("!odd[") == [r.name for r in ROWS if r.name != "odd[name]"]


def test_label_selector_equality_and_inequality() -> None:
    assert names("-l app=nginx") == ["nginx-7d9f", "nginx-canary"]
    assert names("-l app==nginx") == ["nginx-7d9f", "nginx-canary"]
    # != matches rows without the key too, as Kubernetes does
    assert names("-l app!=nginx") == ["api-server", "Trainer-0", "busybox", "odd[name]"]
    assert names("-l app=nginx,tier!=canary") == ["nginx-7d9f"]
    assert names("-l  app = nginx ,  tier = web ") == ["nginx-7d9f"]


def test_label_selector_sets_and_existence() -> None:
    assert names("-l tier in (web,api)") == ["nginx-7d9f", "api-server"]
    assert names("-l tier notin (web, api)") == [
        "nginx-canary",
        "Trainer-0",
        "busybox",
        "odd[name]",
    ]
    assert names("-l team") == ["odd[name]"]
    assert names("-l !app") == ["busybox", "odd[name]"]
    assert names("-l app,tier in (canary)") == ["nginx-canary"]
    assert names("!-l app=nginx") == ["api-server", "Trainer-0", "busybox", "odd[name]"]


def test_label_selector_while_typing_and_malformed() -> None:
    assert names("-l") == [r.name for r in ROWS]
    assert names("-l ") == [r.name for r in ROWS]
    for bad in ("-l app in (a", "-l app=", "-l ,", "-l app=a b", "-l !app=x"):
        spec = parse_filter(bad)
        if bad == "-l app=":  # an empty value is a valid selector
            assert not spec.error and names(bad) == []
            continue
        assert spec.kind == "labels" and spec.error, bad
        assert names(bad) == []


def test_parse_selector_terms() -> None:
    reqs, error = parse_selector("app.kubernetes.io/name=web,tier in (a, b),!gpu,zone")
    assert not error
    assert reqs == (
        LabelRequirement("app.kubernetes.io/name", "=", frozenset({"web"})),
        LabelRequirement("tier", "in", frozenset({"a", "b"})),
        LabelRequirement("gpu", "!exists"),
        LabelRequirement("zone", "exists"),
    )


def test_label_text_escapes_separators_so_selectors_stay_exact() -> None:
    tricky = [
        row("a", labels={"k": "v=1"}),
        row("b", labels={"k=v": "1"}),
        row("c", labels={"k": "v\nk2=x"}),
        row("d", labels={"k\\": "v"}),
        row("e", labels={"k2": "x", "k": "v"}),
    ]
    assert label_text({"a": "1", "b": "2"}) == "\na=1\nb=2\n"
    for text in ("-l k=v", "-l k2=x", "-l k=v=1", "-l k", "-l !k", "-l k in (v,q)", "-l k!=v"):
        spec = parse_filter(text)
        expected = [spec.predicate()(r) for r in tricky]
        assert [bool(v) for v in spec.mask(tricky)] == expected, text
    assert [r.name for r in tricky if compile_filter("-l k=v")(r)] == ["e"]


def test_fuzzy_matches_name_characters_in_order() -> None:
    assert names("-f ngx") == ["nginx-7d9f", "nginx-canary"]
    assert names("-f xgn") == []  # the same letters, not in that order
    assert names("-f ncn") == ["nginx-canary"]
    assert names("-f TRN0") == ["Trainer-0"]
    assert names("!-f ncn") == [r.name for r in ROWS if r.name != "nginx-canary"]
    assert names("-f") == [r.name for r in ROWS]


def test_prefix_words_need_a_space() -> None:
    # "-lfoo" is not a selector but a (regex) text search
    assert parse_filter("-lfoo").kind == "literal"
    assert parse_filter("-f").kind == "all"


FILTERS = [
    "",
    "nginx",
    "NGINX",
    "^web",
    "crash|pending",
    r"\S+ nginx",
    "[unclosed",
    "!nginx",
    "-l app=nginx",
    "-l app!=nginx",
    "-l tier in (web,api)",
    "-l tier notin (web)",
    "-l app,tier!=web",
    "-l !app",
    "-l app in (",
    "-f ncn",
    "!-f ncn",
    "!-l app=api",
    "!",
]


@pytest.mark.parametrize("text", FILTERS)
def test_bulk_mask_agrees_with_predicate(text: str) -> None:
    spec = parse_filter(text)
    predicate = spec.predicate()
    expected = [predicate(r) for r in ROWS]
    assert [bool(v) for v in spec.mask(ROWS)] == expected
    if spec.scan is not None:
        texts = [SCANS[spec.scan](r) for r in ROWS]
        assert [bool(v) for v in spec.mask(ROWS, texts)] == expected


def test_25k_rows_filter_counts() -> None:
    rows = [
        row(f"pod-{i}", f"team-{i % 10}", {"app": ("web", "api", "db")[i % 3]}, "Running")
        for i in range(25_000)
    ]

    def count(text: str) -> int:
        return sum(map(bool, parse_filter(text).mask(rows)))

    assert count("") == 25_000
    assert count("team-3") == 2_500
    assert count("!team-3") == 22_500
    assert count("-l app=web") == 8_334
    assert count(r"pod-1[0-9]{3}\b") == 1_000


def test_module_does_not_import_textual() -> None:
    code = "import sys, tui.filtering; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
