"""Loading what tests/render/recorder.py recorded from the real test apiserver."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from mlops_tui.backends.models import Row
from tests.render.recorder import FIXTURES

Obj = dict[str, Any]


@cache
def _load(name: str) -> tuple[Obj, ...]:
    return tuple(json.loads((FIXTURES / f"{name}.json").read_text())["items"])


def items(name: str) -> list[Obj]:
    """The recorded objects of one file (a fresh copy: tests may change them)."""
    return json.loads(json.dumps(_load(name)))


def named(name: str, obj_name: str) -> Obj:
    (obj,) = [o for o in items(name) if o["metadata"]["name"] == obj_name]
    return obj


@cache
def tables() -> dict[str, Obj]:
    return json.loads((FIXTURES / "tables.json").read_text())


def printed(kind: str, obj_name: str) -> dict[str, str]:
    """The server's own printer's row for an object: column name -> cell text."""
    table = tables()[kind]
    return {col: str(cell) for col, cell in zip(table["columns"], table["rows"][obj_name],
                                                strict=True)}


def asked_at(kind: str) -> tuple[float, float]:
    """When the table was asked for: the server computed its ages between these moments."""
    before, after = tables()[kind]["asked_at"]
    return before, after


def cell(columns: tuple, row: Row, name: str) -> str:
    return row.cells[[c.name for c in columns].index(name)]
