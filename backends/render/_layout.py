"""The text layout of ``kubectl describe``: ``Key:  value`` lines, sections, small tables."""

from __future__ import annotations

import time
from collections.abc import Mapping

from mlops_tui.backends.render._common import parse_time

NONE = "<none>"


def when(value: str | None) -> str:
    """An API timestamp as kubectl describe prints it (RFC 1123, always UTC here, so the text
    is the same whatever the machine's time zone)."""
    t = parse_time(value)
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t)) if t else "<unset>"


def pairs(mapping: Mapping | None, sep: str = "=") -> str:
    """``k=v`` lines, sorted; ``<none>`` when empty."""
    return "\n".join(f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items())) or NONE


class Text:
    """kubectl describe's layout: ``Key:`` cells and their values, lined up the way kubectl's
    tabwriter lines them up: over each run of consecutive key lines (any indent), values
    start two spaces after the longest key. A multi-line value lines up under itself; any
    other line (a section title, a table) ends the run."""

    def __init__(self) -> None:
        self._rows: list[str | tuple[str, str]] = []

    def kv(self, key: str, value: object, indent: int = 0) -> None:
        text = str(value)
        parts = text.split("\n") if text != "" else [NONE]
        self._rows.append((f"{' ' * indent}{key}:", parts[0]))
        self._rows += [("", part) for part in parts[1:]]

    def add(self, *lines: str) -> None:
        self._rows += lines or [""]

    def table(self, header: tuple[str, ...], rows: list[tuple[str, ...]], indent: int = 2) -> None:
        rows = [header, tuple("-" * len(h) for h in header), *rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            self._rows.append(" " * indent + "  ".join(cells).rstrip())

    def text(self) -> str:
        lines: list[str] = []
        run: list[tuple[str, str]] = []

        def flush() -> None:
            width = max((len(cell) for cell, _ in run), default=0) + 2
            lines.extend(f"{cell:<{width}}{value}".rstrip() for cell, value in run)
            run.clear()

        for row in self._rows:
            if isinstance(row, tuple):
                run.append(row)
            else:
                flush()
                lines.append(row)
        flush()
        return "\n".join(lines) + "\n"


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def head(out: Text, obj: dict, *, name: bool = True) -> None:
    """Name, Namespace (namespaced objects only), Labels, Annotations, CreationTimestamp.

    The last-applied annotation is left out, as it repeats the object (and for a secret
    would repeat its values).
    """
    meta = obj.get("metadata") or {}
    if name:
        out.kv("Name", meta.get("name", ""))
        if meta.get("namespace"):
            out.kv("Namespace", meta["namespace"])
    out.kv("Labels", pairs(meta.get("labels")))
    out.kv("Annotations", pairs({k: v for k, v in (meta.get("annotations") or {}).items()
                                 if k != LAST_APPLIED}, ": "))
    out.kv("CreationTimestamp", when(meta.get("creationTimestamp")))


def controller_of(obj: dict) -> str:
    """``Kind/name`` of the owner that controls ``obj`` (kubectl's "Controlled By"), or ""."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def conditions(out: Text, status: dict, columns: tuple[str, ...] = ("Type", "Status")) -> None:
    """The Conditions table with the given columns (condition field names, capitalised)."""
    conds = status.get("conditions") or ()
    if not conds:
        return
    out.add("Conditions:")
    out.table(columns, [tuple(str(c.get(col[0].lower() + col[1:], "")) for col in columns)
                        for c in conds])
