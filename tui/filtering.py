"""k9s-style ``/`` filters, compiled once per keystroke into a plain row predicate.

Pure on purpose (no textual import), so it is tested and timed without an app.

The grammar (leading blanks are ignored, trailing ones searched for):

* ``""``: every row.
* ``text``: a case-insensitive regular expression searched in ``row.search_text``; a pattern
  that is not a valid regex is matched as a literal substring instead (never raises).
  Text with no regex metacharacter is a plain substring test (same answer, faster).
* ``-l sel``: a Kubernetes label selector over ``row.labels``: comma-separated
  ``k=v`` / ``k==v`` / ``k!=v`` / ``k in (a,b)`` / ``k notin (a,b)`` / ``k`` / ``!k``.
* ``-f text``: fuzzy: the characters of ``text`` appear in ``row.name`` in that order.
* a leading ``!`` inverts any of the above (``!nginx``, ``!-l app=web``).

A form with nothing after it (``!``, ``-l``, ``-f``) matches every row: that is what the
user sees while still typing. A malformed selector matches no row and sets ``error``
("invalid selector: ..."); an invalid regex is searched as plain text and sets ``error``
("invalid regex: ..."), which the view shows under the table.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import and_, attrgetter, contains, not_
from typing import Literal

from mlops_tui.backends.labels import LabelRequirement, label_text, parse_selector
from mlops_tui.backends.models import Row

RowPredicate = Callable[[Row], bool]
FilterKind = Literal["all", "regex", "literal", "labels", "fuzzy"]

_REGEX_META = frozenset(".^$*+?{}[]\\|()")
# A backslash escape that lowering would change: \S \W \D \B \A \Z \x41 \N{..} \1 \t...
_UNSAFE_TO_FOLD = re.compile(r"\\(?![sdwb]|[^A-Za-z0-9])")


def _match_all(row: Row) -> bool:
    return True


def _match_none(row: Row) -> bool:
    return False


SCANS: dict[str, Callable[[Row], str]] = {
    "search": lambda row: row.search_text.lower(),
    "name": lambda row: row.name.lower(),
    "labels": lambda row: label_text(row.labels),
}
"""The per-row texts a filter may read (:attr:`FilterSpec.scan`), by name. A caller that
filters the same rows on every keystroke keeps one list per name, made once, and hands it
to :meth:`FilterSpec.mask`."""


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """What a filter text means: the parsed form behind :func:`compile_filter`.

    ``pattern`` is what is searched: the text of a ``literal`` (plain text, or a regex that
    did not compile), the ``regex``, the ``fuzzy`` regex, or the ``labels`` selector.
    ``error`` says why the text was not taken as typed (invalid regex or selector).
    ``folds``: the search runs case-sensitively in lowered text, which is several times
    faster than ``re.IGNORECASE``; a regex folds unless lowering would change its meaning
    (escapes such as ``\\S`` or ``\\x41``).
    """

    text: str
    kind: FilterKind
    inverse: bool = False
    pattern: str = ""
    selector: tuple[LabelRequirement, ...] = ()
    error: str = ""
    folds: bool = True

    @property
    def matches_all(self) -> bool:
        """True when the filter lets every row through (callers may skip the pass)."""
        return self.kind == "all"

    @property
    def scan(self) -> str | None:
        """Which :data:`SCANS` text each row is tested on; ``None``: the raw search text."""
        if self.kind == "labels":
            return "labels"
        if self.kind == "fuzzy":
            return "name"
        if self.kind == "all" or not self.folds:
            return None
        return "search"

    def predicate(self) -> RowPredicate:
        """The test for one row (an upsert); for many rows :meth:`mask` is faster."""
        if self.kind == "all":
            return _match_all
        if self.kind == "labels":
            if self.error:
                return _match_none
            reqs, inverse = self.selector, self.inverse
            return lambda row: all(req.matches(row.labels) for req in reqs) != inverse
        text_of = SCANS[self.scan] if self.scan else attrgetter("search_text")
        inverse = self.inverse
        if self.kind == "literal":
            needle = self.pattern.lower()
            return lambda row: (needle in text_of(row)) != inverse
        search = self._compile().search
        return lambda row: (search(text_of(row)) is not None) != inverse

    def mask(self, rows: Sequence[Row], texts: Sequence[str] | None = None) -> Iterable[object]:
        """One truthy/falsy value per row, as :meth:`predicate` would answer.

        Built from ``map`` over C callables (``operator.contains``, a bound
        ``Pattern.search``...), so no Python frame runs per row: this is the per-keystroke
        pass. ``texts``, when given, holds ``SCANS[self.scan](row)`` for each row.
        """
        if self.kind == "all":
            return repeat(True, len(rows))
        if self.error and self.kind == "labels":
            return repeat(False, len(rows))
        if texts is None:
            text_of = SCANS[self.scan] if self.scan else attrgetter("search_text")
            texts = list(map(text_of, rows))
        if self.kind == "labels":
            hits = self.selector[0].mask(texts)
            for req in self.selector[1:]:
                hits = map(and_, hits, req.mask(texts))  # bools: no tuple per row
        elif self.kind == "literal":
            hits = map(contains, texts, repeat(self.pattern.lower()))
        else:
            hits = map(self._compile().search, texts)
        return map(not_, hits) if self.inverse else hits

    def _compile(self) -> re.Pattern[str]:
        if self.kind == "fuzzy":
            return _quiet_compile(self.pattern)  # made from lowered text already
        if self.folds:
            return _quiet_compile(self.pattern.lower())
        return _quiet_compile(self.pattern, re.IGNORECASE)


def _quiet_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` without its FutureWarnings ("possible nested set" for ``[[``): a
    warning printed on the terminal under a running TUI garbles the screen."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern, flags)


def _fold_pattern(pattern: str) -> str | None:
    """The pattern lowered, when it means the same in lowered text; else None."""
    if _UNSAFE_TO_FOLD.search(pattern):
        return None
    folded = pattern.lower()
    try:
        _quiet_compile(folded)
    except (re.error, RecursionError, OverflowError):
        return None
    return folded


def parse_filter(text: str) -> FilterSpec:
    """Read a filter text (see the module docstring); never raises."""
    body = text.lstrip()  # trailing blanks are kept: "web " is a search for them
    inverse = body.startswith("!")
    if inverse:
        body = body[1:].lstrip()
    if body.startswith("-l") and (len(body) == 2 or body[2].isspace()):
        selector = body[2:].strip()
        if not selector:
            return FilterSpec(text, "all")
        reqs, error = parse_selector(selector)
        return FilterSpec(text, "labels", inverse, selector, reqs,
                          f"invalid selector: {error}" if error else "")
    if body.startswith("-f") and (len(body) == 2 or body[2].isspace()):
        fuzzy = body[2:].strip()
        if not fuzzy:
            return FilterSpec(text, "all")
        pattern = ".*?".join(re.escape(ch) for ch in fuzzy.lower())
        return FilterSpec(text, "fuzzy", inverse, pattern)
    if not body.strip():
        return FilterSpec(text, "all")
    if not _REGEX_META.intersection(body):
        return FilterSpec(text, "literal", inverse, body)
    try:
        _quiet_compile(body, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        error = f"invalid regex: {exc} (matching it as plain text)"
        return FilterSpec(text, "literal", inverse, body, error=error)
    return FilterSpec(text, "regex", inverse, body, folds=_fold_pattern(body) is not None)


def compile_filter(text: str) -> RowPredicate:
    """The row test for a filter text: ``compile_filter("!nginx")(row) -> bool``."""
    return parse_filter(text).predicate()
