"""The action layer: every operation the TUI and ``--script`` can start, in one table.

An action takes a typed request (a pydantic model: the script schema is the same object)
and streams :class:`ActionEvent` s. The screens and the script runner both go through
:func:`execute`; neither reimplements an operation. New features add rows to
:data:`ACTIONS` (a module with a ``SPECS`` tuple, listed in ``_MODULES``).
"""

from __future__ import annotations

from importlib import import_module

from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Request,
    execute,
    parse_duration,
    result,
)
from mlops_tui.backends.actions.events import ActionEvent, EventKind, Failure

_MODULES = ("objects", "operate", "logs", "context")

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for module in _MODULES
    for spec in import_module(f"mlops_tui.backends.actions.{module}").SPECS
}

__all__ = ["ACTIONS", "ActionContext", "ActionEvent", "ActionSpec", "CheckFailed", "EventKind",
           "Failure", "Request", "execute", "parse_duration", "result"]
