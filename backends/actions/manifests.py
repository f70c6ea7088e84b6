"""Manifest files as ``kubectl apply -f`` reads them (pure: files in, checked objects out).

A path is a file or a directory (its ``.yaml`` / ``.yml`` / ``.json`` files, sorted, not
recursive). YAML files hold one or more documents; a ``kind: List`` (or any ``*List`` with
``items``) stands for its items. Every object remembers where it starts (``file:line``), so
each error names the file and the line, and nothing reaches a server before every object of
every file has parsed and has a usable shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_tui.backends import names
from mlops_tui.backends.errors import ConfigError

SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 16 * 1024 * 1024
# YAML aliases can make a small file expand into an enormous object ("billion laughs"):
# refuse a document whose expansion would hold more nodes than any real manifest does.
MAX_NODES = 1_000_000
_API_VERSION = re.compile(r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]+$")


@dataclass(frozen=True, slots=True)
class Manifest:
    source: str  # "manifests/web.yaml:12": where the object starts
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.body["metadata"].get("namespace") or ""


def files_of(path: Path) -> list[Path]:
    """The manifest files ``path`` names, in the order they are applied.

    Raises:
        ConfigError: it does not exist, or is a directory without manifest files.
    """
    try:
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.suffix.lower() in SUFFIXES and p.is_file())
            if not found:
                raise ConfigError(f"{path}: no {', '.join(SUFFIXES)} files in this directory")
            return found
        if path.is_file():
            return [path]
    except OSError as exc:  # permission denied, a name too long
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    raise ConfigError(f"{path}: no such file or directory")


def load(path: str) -> list[Manifest]:
    """Every object in the manifest files at ``path`` (``~`` expanded), checked (see
    :func:`check`).

    Raises:
        ConfigError: a file cannot be read or parsed, or an object is malformed; the
            message names the file and the line.
    """
    if "\0" in path:
        raise ConfigError(f"{path!r}: a path cannot hold a NUL character")
    try:
        where = Path(path).expanduser()
    except RuntimeError:  # ~someone who is not a user here
        raise ConfigError(f"{path}: unknown user in ~") from None
    manifests: list[Manifest] = []
    for file in files_of(where):
        for line, document in _documents(file):
            manifests += _expand(f"{file}:{line}", document)
    for manifest in manifests:
        check(manifest)
    return manifests


def _read(file: Path) -> str:
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None


def _documents(file: Path) -> list[tuple[int, Any]]:
    """(first line, parsed document) for each non-empty document of one file."""
    text = _read(file)
    if file.suffix.lower() == ".json":
        try:
            return [(1, json.loads(text))]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise ConfigError(f"{file}: nested too deeply") from None
    loader = yaml.SafeLoader(text)
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if _too_many_nodes(node):
                raise ConfigError(f"{file}:{node.start_mark.line + 1}: the document expands "
                                  f"to more than {MAX_NODES:,} values (YAML aliases?)")
            document = loader.construct_document(node)
            if document is not None:
                documents.append((node.start_mark.line + 1, document))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply") from None
    finally:
        loader.dispose()
    return documents


def _too_many_nodes(root: yaml.Node) -> bool:
    """Whether the document, with every alias expanded, holds more than MAX_NODES nodes."""
    seen, stack = 0, [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return True
        if isinstance(node, yaml.SequenceNode):
            stack += node.value
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += (key, value)
    return False


def _expand(source: str, document: Any) -> list[Manifest]:
    """One object, or the items of a List (kubectl accepts any ``*List`` kind)."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: a manifest must be a mapping, not "
                          f"{_type_name(document)}")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in document:
        items = document["items"]
        if not isinstance(items, list):
            raise ConfigError(f"{source}: {kind}.items must be a list")
        out = []
        for index, item in enumerate(items):
            out += _expand(f"{source} (items[{index}])", item)
        return out
    return [Manifest(source, document)]


def check(manifest: Manifest) -> None:
    """The shape every object needs before a server sees it: apiVersion, kind and a name
    (and a namespace, if any) the API could accept.

    Raises:
        ConfigError: naming the source and what is wrong.
    """
    body, source = manifest.body, manifest.source
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise ConfigError(f"{source}: apiVersion is missing")
    if not _API_VERSION.match(api_version):
        raise ConfigError(f"{source}: apiVersion {api_version!r} is not GROUP/VERSION or "
                          "VERSION")
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ConfigError(f"{source}: kind is missing" if not kind
                          else f"{source}: kind {kind!r} is not a kind name")
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        raise ConfigError(f"{source}: {kind} has no metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        hint = " (generateName cannot be applied)" if meta.get("generateName") else ""
        raise ConfigError(f"{source}: {kind} has no metadata.name{hint}")
    namespace = meta.get("namespace")
    try:
        names.check_name(name, f"{kind} name")
        if namespace is not None:
            if not isinstance(namespace, str):
                raise ConfigError(f"invalid namespace {namespace!r}: must be a string")
            names.check_namespace(namespace)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "true/false"}.get(type(value), type(value).__name__)
