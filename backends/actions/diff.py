"""What an apply would change, as ``kubectl diff`` shows it (pure).

The live object is compared with the server's dry-run answer, both without the fields the
server owns and rewrites on every write (managedFields, resourceVersion, generation, uid,
creationTimestamp, selfLink), as a unified diff of their YAML. Secret values never appear:
both sides are redacted as ``describe`` redacts them, and a value that changes shows as
``<redacted> (before)`` / ``<redacted> (after)`` so the change is still visible.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import yaml

from mlops_tui.backends.render.describe import REDACTED, redact

Obj = dict[str, Any]

SERVER_OWNED = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp",
                "selfLink")
_SECRET_FIELDS = ("data", "stringData")


def comparable(obj: Obj | None) -> Obj:
    """``obj`` without the metadata the server rewrites on every write ({} for None)."""
    if obj is None:
        return {}
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for field in SERVER_OWNED:
            meta.pop(field, None)
    return out


def changed(live: Obj | None, merged: Obj) -> bool:
    """Whether applying would change anything a user set (None: it does not exist yet)."""
    return live is None or comparable(live) != comparable(merged)


def _redacted(live: Obj, merged: Obj) -> tuple[Obj, Obj]:
    shown_live, shown_merged = redact(live), redact(merged)
    for field in _SECRET_FIELDS:
        before, after = shown_live.get(field), shown_merged.get(field)
        if not (isinstance(before, dict) and isinstance(after, dict)):
            continue
        raw_before, raw_after = live.get(field) or {}, merged.get(field) or {}
        for key in before.keys() & after.keys():
            if before[key] == after[key] == REDACTED and raw_before.get(key) != raw_after.get(
                    key):
                before[key], after[key] = f"{REDACTED} (before)", f"{REDACTED} (after)"
    return shown_live, shown_merged


def _yaml(obj: Obj) -> list[str]:
    if not obj:
        return []
    text = yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=120)
    return text.splitlines()


def diff_lines(live: Obj | None, merged: Obj, label: str) -> list[str]:
    """The unified diff, one line each; [] when nothing would change.

    Args:
        live: the object as it is (None: it does not exist yet).
        merged: the server's dry-run answer: the object as it would be.
        label: names both sides (``live/...``, ``merged/...``), as kubectl's file names do.
    """
    if not changed(live, merged):
        return []
    before, after = _redacted(comparable(live), comparable(merged))
    return [line.rstrip("\n") for line in difflib.unified_diff(
        _yaml(before), _yaml(after), f"live/{label}", f"merged/{label}", lineterm="")]
