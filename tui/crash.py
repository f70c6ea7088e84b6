"""A crash inside the TUI reaches the log too, never a credential with it.

Textual prints an unhandled exception's traceback on the terminal it restores, and that is
all: a user who closed the terminal, or a bug report, has nothing. :func:`log_exception`
writes the traceback to the ``mlops_tui`` logger (the state directory's log file) after
:func:`scrub` removed what may be a secret: tracebacks show local values, request headers
and kubeconfig fragments in exception messages.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

REDACTED = "<redacted>"

# (pattern, replacement): each keeps the name of what it hides, so the log still says what
# was there. Order matters: whole header lines first, then key=value forms, then blobs.
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # "Authorization: Bearer abc", "'authorization': 'Basic abc'", "Proxy-Authorization=..."
    (re.compile(r"""(?i)((?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n,}]+"""),
     rf"\1{REDACTED}"),
    # a bearer token anywhere else ("Bearer eyJ...")
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\1{REDACTED}"),
    # kubeconfig and secret fields, as YAML, JSON or repr: client-key-data: ..., "token": ...
    (re.compile(r"""(?i)((?:client-key-data|client-certificate-data|id-token|refresh-token"""
                r"""|access-token|private[-_]?key|secret|api[-_]?key)['"]?\s*[:=]\s*['"]?)"""
                r"""[^'"\s,}]+"""), rf"\1{REDACTED}"),
    # token=..., password=..., passwd: ..., pwd=... (query strings, repr, YAML, kwargs)
    (re.compile(r"""(?i)\b((?:[a-z_-]*token|password|passwd|pwd)['"]?\s*[:=]\s*['"]?)"""
                r"""[^'"\s&,;)}]+"""), rf"\1{REDACTED}"),
    # user:password@ in a URL
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@"), rf"\1{REDACTED}@"),
    # a PEM private key block
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), f"-----{REDACTED} PRIVATE KEY-----"),
    # a JWT (three base64url parts), wherever it sits
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # any other long base64 blob (certificates, keys, tokens in odd places): see _blob
    (re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{40,}={0,2}(?![A-Za-z0-9+/=_-])"),
     lambda match: _blob(match.group())),
)

log = logging.getLogger("mlops_tui")


def _blob(text: str) -> str:
    """Redact a long run of base64 characters when it looks random: upper- and lower-case
    letters and digits all in it. Hex digests, container ids and long lower-case names
    (paths, identifiers) stay readable."""
    if any(c.isupper() for c in text) and any(c.islower() for c in text) and any(
            c.isdigit() for c in text):
        return REDACTED
    return text


def scrub(text: str) -> str:
    """``text`` with every credential-looking part replaced by ``<redacted>``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def exception_text(error: BaseException) -> str:
    """The full traceback of ``error`` (chained causes included), scrubbed."""
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return scrub("".join(lines)).rstrip()


def log_exception(error: BaseException, where: str = "the TUI") -> None:
    """Log ``error`` with its traceback (scrubbed) at ERROR on the ``mlops_tui`` logger.

    Never raises: it runs while the app is already failing.
    """
    with contextlib.suppress(Exception):  # logging must not turn one crash into two
        log.error("unhandled exception in %s:\n%s", where, exception_text(error))


def report_failed_worker(node: Any, event: Any) -> None:
    """Handle a ``Worker.StateChanged`` on ``node``: a worker that died of an exception
    nothing caught (a bug: backend errors are caught where they happen) is logged with its
    traceback and told to the user, and the app keeps running.

    Worker messages do not bubble, so every widget that starts workers routes its
    ``on_worker_state_changed`` here.
    """
    from textual.content import Content
    from textual.worker import WorkerState

    error = event.worker.error
    if event.state is not WorkerState.ERROR or error is None:
        return
    log_exception(error, f"worker {event.worker.name or 'task'}")
    with contextlib.suppress(Exception):  # the app may be shutting down
        node.app.notify(Content(f"internal error ({error.__class__.__name__}); details in "
                                "the log"), severity="error")
