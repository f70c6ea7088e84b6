"""Running one action from the UI: the app's keys and the wizard's steps share this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_tui.backends.actions.events import ActionEvent, EventKind


def request_problem(exc: Exception) -> str:
    """One line per field a request model refused (``replicas: Input should be …``)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}".lstrip(": ")
            for e in errors())
    return str(exc)


async def stream_action(spec: Any, arguments: dict[str, object], context: Any,
                        on_event: Callable[[ActionEvent], None]) -> ActionEvent:
    """Validate ``arguments`` against ``spec``'s request and run it in ``context``.

    Every event goes to ``on_event``. Returns the terminal one: a request the action
    refuses is a failed event naming the field, never an exception (cancellation aside).
    """
    from mlops_tui.backends.actions import execute

    try:
        request = spec.request.model_validate(arguments)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        last = ActionEvent(EventKind.FAILED, request_problem(exc))
        on_event(last)
        return last
    last = ActionEvent(EventKind.FAILED, f"{spec.name} did not finish")
    async for event in execute(spec, context, request):
        on_event(event)
        last = event
    return last
