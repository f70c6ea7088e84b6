"""How a refused action request reads on screen (the app's flash line, the wizard's steps)."""

from __future__ import annotations


def request_problem(exc: Exception) -> str:
    """One line per field a request model refused (``replicas: Input should be …``)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}".lstrip(": ")
            for e in errors())
    return str(exc)
