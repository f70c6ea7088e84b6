"""The action layer: every operation the TUI and ``--script`` can start, in one table.

An action takes a typed request (a pydantic model: the script schema is the same object)
and streams :class:`ActionEvent` s. The screens and the script runner both go through
:func:`execute`; neither reimplements an operation. New features add rows to
:data:`ACTIONS` (a module with a ``SPECS`` tuple, listed in ``_MODULES``).

The names below load on first use (PEP 562): the first screen of the TUI needs none of
them, and pydantic costs a tenth of a second to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_MODULES = ("objects", "operate", "logs", "context", "apply", "wait", "metrics", "repository",
            "deploy", "deployment_ops", "triton", "provision",
            "monitoring")

_FROM_BASE = ("ActionContext", "ActionSpec", "CheckFailed", "Request", "execute",
              "parse_duration")
_FROM_EVENTS = ("ActionEvent", "EventKind", "Failure")

if TYPE_CHECKING:
    from mlops_tui.backends.actions.base import (
        ActionContext,
        ActionSpec,
        CheckFailed,
        Request,
        execute,
        parse_duration,
    )
    from mlops_tui.backends.actions.events import ActionEvent, EventKind, Failure

    ACTIONS: dict[str, ActionSpec]


def _table() -> dict[str, Any]:
    return {spec.name: spec for module in _MODULES
            for spec in import_module(f"mlops_tui.backends.actions.{module}").SPECS}


def __getattr__(name: str) -> Any:
    if name == "ACTIONS":
        value: Any = _table()
    elif name in _FROM_BASE:
        value = getattr(import_module("mlops_tui.backends.actions.base"), name)
    elif name in _FROM_EVENTS:
        value = getattr(import_module("mlops_tui.backends.actions.events"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = ["ACTIONS", "ActionContext", "ActionEvent", "ActionSpec", "CheckFailed", "EventKind",
           "Failure", "Request", "execute", "parse_duration"]
