"""Where credentials come from: kubeconfig files (kubectl's precedence) or in-cluster.

Precedence, as kubectl: ``--kubeconfig``, then ``$KUBECONFIG`` (a list of files, merged,
the first file to define a name wins), then ``~/.kube/config``, then the in-cluster service
account. Every failure becomes a :class:`ConfigError` with the file named and no secret in it.

Each file is read and parsed once (and again only when it changes on disk); the official
client's loader gets the merged result, never a path to read again. The context list the
``:ctx`` view shows is served from memory (:class:`ContextCatalog`), so the UI thread never
parses YAML.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_TOKEN_FILENAME, InClusterConfigLoader
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.kubernetes.exec_plugin import CheckedExecLoader
from mlops_tui.backends.models import ContextInfo
from mlops_tui.backends.names import check_namespace

log = logging.getLogger(__name__)

IN_CLUSTER = "in-cluster"
SECTIONS = ("clusters", "contexts", "users")


@dataclass
class LoadedConfig:
    api_client: ApiClient
    context: str
    cluster: str
    user: str
    namespace: str  # the context's namespace, "" when it names none
    server: str
    catalog: ContextCatalog = field(default_factory=lambda: ContextCatalog(None, []))


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """The kubeconfig files in force, existing ones only, in precedence order."""
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and
                Path(p).expanduser().exists()]
    default = Path("~/.kube/config").expanduser()
    return [default] if default.exists() else []


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and Path(
        SERVICE_TOKEN_FILENAME).exists()


# -- reading files: once each, again only when changed --------------------------------------
_parsed: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
_parsed_lock = threading.Lock()


def read_file(path: Path) -> dict[str, Any]:
    """One kubeconfig file, parsed. A file whose modification time and size are unchanged
    since the last call is not read again. Callers must not modify the result.

    Raises:
        ConfigError: missing, unreadable, not YAML, or not a mapping.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"kubeconfig {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        hit = _parsed.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"kubeconfig {path} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"kubeconfig {path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path} is empty or not a mapping")
    with _parsed_lock:
        _parsed[path] = (stamp, data)
    return data


@dataclass
class Merged:
    """The files merged as kubectl merges them."""

    paths: list[Path]
    entries: dict[str, list[tuple[Path, dict[str, Any]]]]  # section -> (file, entry)
    current: str  # the first file's current-context that sets one; "" if none does

    def context_names(self) -> list[str]:
        return [entry["name"] for _, entry in self.entries["contexts"]]

    def loader_config(self) -> ConfigNode:
        """What the official loader takes: a private copy (its token refresh writes into
        it), each entry tagged with its file so relative certificate paths resolve there."""
        value: dict[str, Any] = {
            section: [ConfigNode(f"{path}/{section}[name={entry['name']}]",
                                 copy.deepcopy(entry), str(path))
                      for path, entry in self.entries[section]]
            for section in SECTIONS}
        if self.current:
            value["current-context"] = self.current
        first = str(self.paths[0])
        return ConfigNode(first, value, first)


def merge(paths: list[Path]) -> Merged:
    """Merge kubeconfig files: the first file to define a name wins, and the first file
    that sets current-context wins (kubectl's rules).

    Raises:
        ConfigError: a file cannot be read, or a section is not a list of named entries.
    """
    entries: dict[str, list[tuple[Path, dict[str, Any]]]] = {s: [] for s in SECTIONS}
    current = ""
    for path in paths:
        data = read_file(path)
        for section in SECTIONS:
            items = data.get(section) or []
            if not isinstance(items, list):
                raise ConfigError(f"invalid kubeconfig {path}: {section} is not a list")
            known = {entry["name"] for _, entry in entries[section]}
            for i, item in enumerate(items):
                if not isinstance(item, dict) or not isinstance(item.get("name"), str) or (
                        not item["name"]):
                    raise ConfigError(f"invalid kubeconfig {path}: {section}[{i}] has no name")
                if item["name"] not in known:
                    known.add(item["name"])
                    entries[section].append((path, item))
        if not current and data.get("current-context"):
            current = str(data["current-context"])
    return Merged(paths, entries, current)


def _context_info(entry: dict[str, Any], current: str) -> ContextInfo:
    body = entry.get("context") if isinstance(entry.get("context"), dict) else {}
    return ContextInfo(name=entry["name"], cluster=str(body.get("cluster") or ""),
                       user=str(body.get("user") or ""),
                       namespace=str(body.get("namespace") or ""),
                       current=entry["name"] == current)


def _contexts_of(merged: Merged) -> list[ContextInfo]:
    return [_context_info(entry, merged.current) for _, entry in merged.entries["contexts"]]


def list_contexts(explicit: str | None) -> list[ContextInfo]:
    """Every context of the kubeconfig files in force (reads files: not on the UI thread).

    Raises:
        ConfigError: a file cannot be read or merged.
    """
    paths = kubeconfig_paths(explicit)
    if not paths:
        return [ContextInfo(IN_CLUSTER, IN_CLUSTER, "serviceaccount", current=True)] if (
            _in_cluster_available()) else []
    return _contexts_of(merge(paths))


class ContextCatalog:
    """The contexts of the kubeconfig, answered from memory.

    :meth:`snapshot` returns what was parsed last and starts a re-read in a background
    thread (unchanged files cost a ``stat``), so the next look shows edits to the files
    without the caller ever waiting on a disk or a YAML parser.
    """

    def __init__(self, explicit: str | None, contexts: list[ContextInfo]) -> None:
        self.explicit = explicit
        self._contexts = list(contexts)
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def snapshot(self) -> list[ContextInfo]:
        with self._lock:
            if self._reader is None or not self._reader.is_alive():
                self._reader = threading.Thread(target=self._reread, daemon=True,
                                                name="kubeconfig-reread")
                self._reader.start()
            return list(self._contexts)

    def wait(self, timeout: float = 5.0) -> None:
        """Wait for a re-read in flight (tests)."""
        reader = self._reader
        if reader is not None:
            reader.join(timeout)

    def _reread(self) -> None:
        try:
            contexts = list_contexts(self.explicit)
        except ConfigError as exc:  # keep showing the last good list; the switch will say why
            log.warning("re-reading the kubeconfig failed: %s", exc)
            return
        with self._lock:
            self._contexts = contexts


# -- building a client ----------------------------------------------------------------------
def _scrub(exc: BaseException) -> str:
    """An exception's text without anything that looks like a credential."""
    text = str(exc)
    for marker in ("token", "password", "client-key-data"):
        if marker in text.lower():
            return exc.__class__.__name__
    return text.splitlines()[0] if text else exc.__class__.__name__


def _chosen_context(merged: Merged, context: str | None) -> str:
    names = merged.context_names()
    if context is not None:
        if context not in names:
            raise ConfigError(f"context {context!r} not found in kubeconfig; "
                              f"available: {', '.join(names) or 'none'}")
        return context
    if not merged.current:
        raise ConfigError("kubeconfig has no current-context", hint="pass --context NAME")
    if merged.current not in names:
        raise ConfigError(f"invalid kubeconfig: its current-context {merged.current!r} is not "
                          f"one of its contexts ({', '.join(names) or 'none'})",
                          hint="pass --context NAME")
    return merged.current


def _in_cluster() -> LoadedConfig:
    configuration = Configuration()
    try:
        InClusterConfigLoader(token_filename=SERVICE_TOKEN_FILENAME,
                              cert_filename="/var/run/secrets/kubernetes.io/"
                              "serviceaccount/ca.crt").load_and_set(configuration)
    except ConfigException as exc:
        raise ConfigError(f"in-cluster configuration failed: {_scrub(exc)}") from None
    ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
    info = ContextInfo(IN_CLUSTER, IN_CLUSTER, "serviceaccount", namespace, current=True)
    return LoadedConfig(ApiClient(configuration), IN_CLUSTER, IN_CLUSTER, "serviceaccount",
                        namespace, configuration.host, ContextCatalog(None, [info]))


def load(explicit: str | None, context: str | None, timeout: float) -> LoadedConfig:
    """Build an API client for ``context`` (None: the current one).

    Raises:
        ConfigError: no configuration, unreadable or invalid files, unknown context, an
            invalid namespace, a failing exec credential plugin.
    """
    paths = kubeconfig_paths(explicit)
    if not paths:
        if explicit is None and _in_cluster_available():
            return _in_cluster()
        where = explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ConfigError(f"no kubeconfig found at {where}",
                          hint="pass --kubeconfig, set KUBECONFIG, or try --demo")
    merged = merge(paths)
    name = _chosen_context(merged, context)
    info = next(c for c in _contexts_of(merged) if c.name == name)
    if info.namespace:
        try:
            check_namespace(info.namespace)
        except ConfigError as exc:
            raise ConfigError(f"context {name!r}: {exc}") from None
    configuration = Configuration()
    try:
        loader: KubeConfigLoader = CheckedExecLoader(
            config_dict=merged.loader_config(), active_context=name, config_base_path=None)
        loader.load_and_set(configuration)
    except (ConfigException, ValueError, KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"context {name!r} is unusable: {_scrub(exc)}") from None
    configuration.retries = False  # we retry ourselves, with backoff and jitter
    return LoadedConfig(
        api_client=ApiClient(configuration), context=name, cluster=info.cluster,
        user=info.user, namespace=info.namespace, server=configuration.host,
        catalog=ContextCatalog(explicit, _contexts_of(merged)),
    )
