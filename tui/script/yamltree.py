"""Bytes to plain values plus the line of every value, with limits a hostile file cannot pass.

PyYAML's node tree (``compose`` with the safe loader) keeps each node's position, so every
later error (a pydantic location such as ``steps[2].wait.timeout``) can name its line. The
tree is turned into plain values here, by hand, so that:

* duplicate keys, merge keys (``<<``), unknown tags and multiple documents are errors, not
  silently resolved;
* nesting deeper than :data:`MAX_DEPTH` is refused while composing (PyYAML's composer
  recurses, so a file of 10,000 ``[`` would otherwise end in ``RecursionError``);
* aliases are allowed but their expansion is counted (:data:`MAX_NODES`): a "billion laughs"
  file stops with a message instead of eating the memory;
* numbers that are too large, or not finite, are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops_tui.tui.script.errors import Problem

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_INT_DIGITS = 30
MAX_FIELD = 80

Path = tuple[str | int, ...]
_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed file: its plain value and the 1-based line of each path in it."""

    value: Any
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


class DocumentError(Exception):
    """The file is not a script-shaped YAML document; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def _line_at(text: str | bytes, position: int) -> int:
    newline = "\n" if isinstance(text, str) else b"\n"
    return text.count(newline, 0, max(0, position)) + 1  # type: ignore[arg-type]


def decode(data: bytes) -> str:
    """UTF-8 text of a script file (a leading BOM is dropped).

    Raises:
        DocumentError: too large, binary (a NUL byte), or not UTF-8.
    """
    if len(data) > MAX_BYTES:
        raise DocumentError([Problem(1, "", f"the file is larger than {MAX_BYTES >> 20} MiB")])
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DocumentError([Problem(_line_at(data, nul), "",
                                     "binary data (a NUL byte): not a YAML text file")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError([Problem(_line_at(data, exc.start), "",
                                     f"not UTF-8 text (byte 0x{data[exc.start]:02x})")]) from None


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Loader(yaml.SafeLoader):
    """The safe loader with a bound on nesting, checked in the scanner (flow collections)
    and before the composer recurses (block collections)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # The scanner looks ahead across every open '[' / '{' (each may start a key), so
        # deep flow nesting costs O(depth^2) before the composer sees a node: stop it here.
        if self.flow_level >= MAX_DEPTH:
            raise _TooDeep(self.get_mark().line + 1)
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str) -> Node | None:
    loader = None
    try:
        loader = _Loader(text)  # the reader checks every character here
        return loader.get_single_node()
    except _TooDeep as exc:
        raise DocumentError([Problem(exc.line, "",
                                     f"nested deeper than {MAX_DEPTH} levels")]) from None
    except yaml.reader.ReaderError as exc:
        what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else (
            "character")
        raise DocumentError([Problem(_line_at(text, exc.position), "",
                                     f"invalid YAML: {what} is not allowed")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or "malformed"
        if "expected a single document" in (exc.context or ""):
            problem = "only one YAML document is allowed (found a second '---')"
        elif exc.context:
            problem = f"{problem} ({exc.context})"
        raise DocumentError([Problem(line, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise DocumentError([Problem(1, "", f"invalid YAML: {exc.__class__.__name__}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def field_name(path: Path) -> str:
    """``("steps", 2, "wait", "timeout")`` -> ``steps[2].wait.timeout`` (0-based, as jq)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if len(out) > MAX_FIELD:  # deep or hostile paths: keep both ends readable
        out = f"{out[:MAX_FIELD // 2]}...{out[-MAX_FIELD // 2:]}"
    return out


def tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class _Converter:
    """Node tree -> plain values, recording lines, collecting problems, counting nodes."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.nodes = 0
        self._scalars = yaml.SafeLoader("")  # only its scalar constructors are used

    def problem(self, node: Node, path: Path, message: str) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, field_name(path), message))

    def value(self, node: Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            why = (f"more than {MAX_NODES} values (after expanding aliases)"
                   if self.nodes > MAX_NODES else f"nested deeper than {MAX_DEPTH} levels")
            raise DocumentError([Problem(node.start_mark.line + 1, field_name(path), why)])
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self.problem(node, path, f"unsupported tag {tag_name(node.tag)}")
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            self.problem(node, path, f"unsupported tag {tag_name(node.tag)}")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self.problem(key_node, path, "merge keys (<<) are not supported: "
                                             "write the fields out")
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, path, "a key must be a plain string")
                continue
            key = key_node.value  # as written: 'on' or 'yes' stay strings, never booleans
            if key in out:
                first = self.lines.get((*path, key), 0)
                self.problem(key_node, (*path, key), f"duplicate key (first at line {first})")
                continue
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.value(value_node, (*path, key), depth + 1)
        return out

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag.removeprefix(_TAG)
        if tag in ("str", "timestamp"):  # a date stays the text written
            return node.value
        if tag == "null":
            return None
        try:
            if tag == "bool":
                return self._scalars.construct_yaml_bool(node)
            if tag == "int":
                if sum(c.isalnum() for c in node.value) > MAX_INT_DIGITS:
                    self.problem(node, path, "number too large")
                    return None
                return self._scalars.construct_yaml_int(node)
            if tag == "float":
                number = self._scalars.construct_yaml_float(node)
                if not math.isfinite(number):
                    self.problem(node, path, "not a finite number")
                    return None
                return number
        except (ValueError, yaml.YAMLError):
            self.problem(node, path, f"not a valid {tag}")
            return None
        self.problem(node, path, f"unsupported tag {tag_name(node.tag)}")
        return None


def parse(text: str) -> Document:
    """The one YAML document in ``text``, as plain values with their lines.

    Raises:
        DocumentError: invalid YAML, limits exceeded, duplicate keys, unsupported tags.
    """
    root = _compose(text)
    if root is None:
        raise DocumentError([Problem(1, "", "the file is empty: a script needs 'steps'")])
    converter = _Converter()
    value = converter.value(root, (), 0)
    if converter.problems:
        raise DocumentError(converter.problems)
    return Document(value, converter.lines)
