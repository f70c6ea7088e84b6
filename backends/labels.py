"""Kubernetes label selectors, parsed as the API server parses them.

``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` and ``!k``,
comma-separated. One parser for the ``/`` filter, ``:`` command mode and script steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import contains, not_, or_
from typing import Literal

LabelOp = Literal["=", "!=", "in", "notin", "exists", "!exists"]

_REQUIREMENT = re.compile(
    r"""^\s*(?P<bang>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*
    (?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)
      |\s(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?\s*$""",
    re.VERBOSE,
)

@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One term of a label selector, e.g. ``tier in (web,api)``."""

    key: str
    op: LabelOp
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("=", "in"):
            return value is not None and value in self.values
        return value is None or value not in self.values  # "!=" and "notin", as Kubernetes

    def mask(self, label_texts: Sequence[str]) -> Iterable[object]:
        """:meth:`matches` over many rows' :func:`label_text`: substring tests run in C.

        Every token in a label text sits between two newlines and its first bare ``=``
        ends the key, so ``"\\napp=web\\n" in text`` holds exactly when app is web.
        """
        key = _escape(self.key)
        if self.op in ("exists", "!exists"):
            hits: Iterable[object] = map(contains, label_texts, repeat(f"\n{key}="))
        else:
            needles = sorted(f"\n{key}={_escape(value)}\n" for value in self.values)
            if not needles:  # "k in ()"
                hits = repeat(False, len(label_texts))
            else:
                hits = map(contains, label_texts, repeat(needles[0]))
            for needle in needles[1:]:
                hits = map(or_, hits, map(contains, label_texts, repeat(needle)))
        return hits if self.op in ("=", "in", "exists") else map(not_, hits)


def _escape(token: str) -> str:
    if "\\" in token or "\n" in token or "=" in token:
        return token.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\q")
    return token


def label_text(labels: Mapping[str, str]) -> str:
    """A row's labels as one string, ``"\\nk=v\\nk2=v2\\n"``, which selectors scan fast.

    Backslash, newline and ``=`` inside keys and values are escaped, so the separators
    never occur inside a token. Callers may keep one per row (see :meth:`FilterSpec.mask`).
    """
    return "\n" + "".join(f"{_escape(k)}={_escape(v)}\n" for k, v in labels.items())


def _split_terms(selector: str) -> list[str] | None:
    """Split at commas outside parentheses; None when the parentheses do not balance."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    if depth:
        return None
    terms.append(selector[start:])
    return terms


def parse_selector(selector: str) -> tuple[tuple[LabelRequirement, ...], str]:
    """Parse a label selector; returns (requirements, error) and never raises."""
    terms = _split_terms(selector)
    if terms is None:
        return (), f"unbalanced parentheses in selector {selector!r}"
    reqs = []
    for term in terms:
        if not term.strip():
            return (), f"empty term in selector {selector!r}"
        m = _REQUIREMENT.match(term)
        if m is None or (m["bang"] and (m["op"] or m["setop"])):
            return (), f"bad selector term {term.strip()!r}"
        key = m["key"]
        if m["op"]:
            op: LabelOp = "!=" if m["op"] == "!=" else "="
            reqs.append(LabelRequirement(key, op, frozenset({m["value"]})))
        elif m["setop"]:
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            reqs.append(LabelRequirement(key, m["setop"], values))
        else:
            reqs.append(LabelRequirement(key, "!exists" if m["bang"] else "exists"))
    return tuple(reqs), ""
