"""kubectl's JSONPath templates (``{.status.replicas}``) on jsonpath-ng.

kubectl writes a path as a template: braces around a path that starts with ``.``, dots in
key names escaped (``{.metadata.labels.app\\.kubernetes\\.io/name}``), subscripts and
filters in brackets (``[0]``, ``[*]``, ``[?(@.type=="Ready")]``). jsonpath-ng wants ``$``
first and odd key names quoted, so each key becomes a quoted field and brackets pass
through as they are.
"""

from __future__ import annotations

from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse

MAX_LENGTH = 1000


class NotScalar(ValueError):
    """The path leads to a map or a list, or to more than one value."""


def _bracket_end(text: str, start: int) -> int:
    """The index just past the ``]`` that closes the ``[`` at ``start`` (quotes aware)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unclosed '['")


def _field(name: str) -> str:
    if '"' in name:
        raise ValueError(f"unsupported character '\"' in key {name!r}")
    return f'"{name}"'


def translate(template: str) -> str:
    """kubectl's ``{.a.b[0]}`` (braces optional) as jsonpath-ng's ``$."a"."b"[0]``.

    Raises:
        ValueError: not a single path kubectl would accept.
    """
    text = template.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    if not text.startswith((".", "[")):
        raise ValueError("must be a path like {.status.replicas}")
    out = ["$"]
    name: str | None = None  # the key being read; None right after a ']'
    separator = ""  # what goes before it: "." or ".." (recursive descent)
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            if name:
                out.append(separator + _field(name))
            separator = ".." if text.startswith("..", i) else "."
            i += len(separator)
            name = ""
        elif char == "[":
            if name:
                out.append(separator + _field(name))
            elif separator == "..":
                out.append("..")
            end = _bracket_end(text, i)
            out.append(text[i:end])
            name, separator, i = None, "", end
        elif char in "{}":
            raise ValueError("only one {...} path is supported")
        elif name is None:
            raise ValueError(f"expected '.' or '[' after ']' at {text[i:i + 10]!r}")
        elif char == "\\" and i + 1 < len(text):  # an escaped character, e.g. a dot
            name += text[i + 1]
            i += 2
        else:
            name += char
            i += 1
    if name:
        out.append(separator + _field(name))
    return "".join(out)


def compile_path(template: str) -> JSONPath:
    """Parse a kubectl JSONPath template.

    Raises:
        ValueError: with a message fit to show.
    """
    if len(template) > MAX_LENGTH:
        raise ValueError(f"jsonpath longer than {MAX_LENGTH} characters")
    try:
        return parse(translate(template))
    except ValueError as exc:
        raise ValueError(f"invalid jsonpath {template!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises bare Exceptions
        raise ValueError(f"invalid jsonpath {template!r}: {exc}") from None


def as_text(value: Any) -> str:
    """A value as kubectl prints it for comparison: ``2``, ``true``, ``Running``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "null"
    return str(value)


def values(path: JSONPath, obj: Any) -> list[Any]:
    """Every value ``path`` finds in ``obj`` ([] when it leads nowhere)."""
    try:
        return [match.value for match in path.find(obj)]
    except (TypeError, ValueError, AttributeError):  # a filter comparing unlike types
        return []


def scalar(path: JSONPath, obj: Any) -> str | None:
    """The one scalar ``path`` leads to, as text; None when it leads nowhere (yet).

    Raises:
        NotScalar: it leads to several values, or to a map or a list, which kubectl wait
            refuses to compare as well.
    """
    found = values(path, obj)
    if not found:
        return None
    if len(found) > 1:
        raise NotScalar(f"the jsonpath matches {len(found)} values, not one")
    if isinstance(found[0], dict | list):
        raise NotScalar("the jsonpath leads to a map or a list, not a single value")
    return as_text(found[0])
