"""``${VAR}`` / ``${VAR:-default}`` substitution and the masking of secret values.

Precedence: the environment overrides the file's ``vars`` (as CI systems let a pipeline
override a default), and ``${VAR:-default}`` applies when neither sets ``VAR`` or it is
empty, as in a shell. ``$${X}`` is the literal text ``${X}``. Only string values are
substituted, never keys, and never inside ``vars`` itself (its values are literal).

A variable whose name contains TOKEN, PASSWORD, SECRET or KEY (any case) is a secret: its
value (whether it came from ``vars``, the environment or a default) is replaced by ``***``
in everything the runner writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "***"
SECRET_HINTS = ("TOKEN", "PASSWORD", "SECRET", "KEY")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(hint in upper for hint in SECRET_HINTS)


class VariableError(ValueError):
    """A reference that cannot be resolved; the message is shown with the value's line."""


class Variables:
    """Resolves references against the environment, then ``vars``; remembers secrets used."""

    def __init__(self, declared: Mapping[str, str], env: Mapping[str, str]) -> None:
        self._declared = dict(declared)
        self._env = env
        # every declared secret is masked, used or not: it is in the file for a reason
        self.secrets: set[str] = {v for k, v in self._declared.items() if looks_secret(k)}

    def lookup(self, name: str) -> str | None:
        value = self._env.get(name)
        return value if value is not None else self._declared.get(name)

    def _resolve(self, match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group("body")
        if body is None:
            raise VariableError("unclosed '${': write '$${' for a literal '${'")
        name, has_default, default = body.partition(":-")
        if not NAME.fullmatch(name):
            raise VariableError(f"bad variable reference ${{{body}}}: a name is letters, "
                                "digits and '_', not starting with a digit")
        value = self.lookup(name)
        if not value and has_default:
            value = default
        if value is None:
            raise VariableError(f"undefined variable ${{{name}}} (set it in vars or the "
                                f"environment, or give a default: ${{{name}:-value}})")
        if looks_secret(name):
            self.secrets.add(value)
        return value

    def substitute(self, text: str) -> str:
        """``text`` with every reference replaced.

        Raises:
            VariableError: an undefined variable without default, or a malformed reference.
        """
        if "$" not in text:
            return text
        return _REFERENCE.sub(self._resolve, text)

    def masker(self) -> Masker:
        return Masker(self.secrets)


class Masker:
    """Replaces every secret value by ``***``, in text and inside nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first
        self._secrets = tuple(values)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def with_secrets(self, *more: str) -> Masker:
        """A masker for these secrets as well (one learned while the script runs)."""
        return Masker((*self._secrets, *more))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def data(self, value: Any) -> Any:
        """A copy of ``value`` (JSON-like data) with secrets masked in strings and keys."""
        if self._pattern is None:
            return value
        return _walk(value, self.text)


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {_walk(k, fn): _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value
