"""Names as the Kubernetes API accepts them, checked where a user gives them.

A namespace or object name goes into a request path; anything the API itself would refuse
is refused here first, with a message that says why, so no user text can reshape a path
(``a/../../x?watch=1``) or reach a server unchecked. Path segments are quoted as well
(see :func:`quote_segment`), as a second line of defence.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from mlops_tui.backends.errors import ConfigError

# apimachinery's IsDNS1123Label / IsDNS1123Subdomain
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MAX, SUBDOMAIN_MAX = 63, 253


def label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 label (namespaces), or None when it is one."""
    if not value:
        return "must not be empty"
    if len(value) > LABEL_MAX:
        return f"must be at most {LABEL_MAX} characters"
    if not _LABEL.match(value):
        return ("must be lower-case letters, digits and '-', starting and ending with a "
                "letter or digit")
    return None


def subdomain_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 subdomain (most object names), or None."""
    if not value:
        return "must not be empty"
    if len(value) > SUBDOMAIN_MAX:
        return f"must be at most {SUBDOMAIN_MAX} characters"
    if not _SUBDOMAIN.match(value):
        return ("must be lower-case letters, digits, '-' and '.', starting and ending with "
                "a letter or digit")
    return None


def check_namespace(value: str) -> str:
    """Return ``value`` when it is a valid namespace name.

    Raises:
        ConfigError: it is not, with the reason (shown to the user as it is).
    """
    problem = label_problem(value)
    if problem:
        raise ConfigError(f"invalid namespace {value!r}: {problem}")
    return value


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` when the API could accept it as an object name (a path segment).

    The API's own rule depends on the kind; every kind's rule forbids '/', '%', '..' and
    control characters, and most kinds want a DNS-1123 subdomain, which is what this checks
    (upper-case letters are let through: some custom resources allow them).

    Raises:
        ConfigError: it cannot be a name.
    """
    problem = subdomain_problem(value.lower()) if value not in (".", "..") else (
        "may not be '.' or '..'")
    if problem:
        raise ConfigError(f"invalid {what} {value!r}: {problem}")
    return value


def quote_segment(value: str) -> str:
    """One URL path segment, percent-encoded (a '/' or '?' can never leave it)."""
    return quote(value, safe="")
