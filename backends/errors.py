"""Errors a backend raises. Each carries a message fit to show a user as it is.

The TUI prints ``str(error)`` in its flash line and the CLI prints it and exits 2; neither
ever shows a traceback for these. Messages never contain a credential.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base class: something a user can read and act on."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(BackendError):
    """Bad or missing configuration: kubeconfig, context, backend name, flags."""


class ConnectionFailed(BackendError):
    """The server could not be reached (DNS, refused, TLS, timeout)."""


class Unauthorized(BackendError):
    """401: the credentials were refused."""


class Forbidden(BackendError):
    """403: the user may not do this."""


class NotFound(BackendError):
    """404: the object or kind is gone."""


class Conflict(BackendError):
    """409 and friends: the object changed under us."""


class Invalid(BackendError):
    """400 / 422: the server rejected what was sent (a manifest, a patch, a selector)."""


class ReadOnlyError(BackendError):
    """A mutating call was made while the session is read-only."""


class UnsupportedError(BackendError):
    """The backend or the kind does not support this action."""


#: what no retry of the same request fixes: the environment must change first (exit 2 in a
#: script); every other BackendError is a check that did not hold (exit 1)
ENVIRONMENT_ERRORS = (ConfigError, ConnectionFailed, Unauthorized, Forbidden, ReadOnlyError)
