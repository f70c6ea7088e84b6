"""Merge a new cluster's kubeconfig into the user's, as a context of its own.

The file is the one kubectl writes new entries to: ``$KUBECONFIG``'s first file that
exists (the last one when none exists yet), else ``~/.kube/config``. The incoming
cluster, user and context (k3s calls them all ``default``, kubeadm
``kubernetes-admin@kubernetes``) are renamed to the cluster's name. Nothing already there
is ever overwritten: a name taken by other content makes the entries ``NAME-2``,
``NAME-3``…; the same content already there is no change. The file is backed up
(``config.bak-YYYYmmddHHMMSS``, 0600) before it is changed, written atomically (0600),
and every other entry, as well as ``current-context`` (set only when the file had none),
is kept. A symlinked kubeconfig stays a symlink: its target is what is rewritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.state import check_cluster_name, write_atomic

_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
_MAX_SUFFIX = 100
_LOCK_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class MergeResult:
    context: str  # the context the cluster was merged as ("lab", or "lab-2" when taken)
    path: Path  # the kubeconfig file written (or already holding it)
    backup: Path | None  # the copy made first; None when the file was new or unchanged
    changed: bool = True  # False: the same entries were already there
    note: str = ""  # one line for the user when the name was taken


def default_target() -> Path:
    """The file kubectl would write a new context to."""
    env = os.environ.get("KUBECONFIG", "")
    files = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    if files:
        return next((f for f in files if f.exists()), files[-1])
    return Path("~/.kube/config").expanduser()


def merge(text: str, *, name: str, target: Path | None = None) -> MergeResult:
    """Add the kubeconfig ``text`` to ``target`` as the context ``name`` (or ``name-N``).

    Args:
        text: a kubeconfig with one context (the one ``current-context`` names when several).
        name: the cluster's name (a DNS-1123 label).
        target: the file; default :func:`default_target`.

    Returns:
        The context it is known by, the file, the backup.

    Raises:
        ConfigError: ``text`` is not a usable kubeconfig; ``target`` is not a kubeconfig
            (left untouched) or cannot be written; ``name`` is invalid.
    """
    check_cluster_name(name)
    cluster, user, context = _incoming(text)
    path = _resolve(target)
    with _file_lock(path):
        document, existed = _read(path)
        for suffix in range(1, _MAX_SUFFIX + 1):
            candidate = name if suffix == 1 else f"{name}-{suffix}"
            found = [_entry(document, section, candidate) for section, _ in _SECTIONS]
            wanted = [cluster, user, {**context, "cluster": candidate, "user": candidate}]
            if found == wanted:
                return MergeResult(candidate, path, None, changed=False,
                                   note=f"context {candidate!r} was already there")
            if found == [None, None, None]:
                break
        else:
            raise ConfigError(f"{path} already has contexts {name!r} to {candidate!r}; "
                              "remove some, or choose another cluster name")
        for (section, key), body in zip(_SECTIONS, wanted, strict=True):
            document.setdefault(section, []).append({"name": candidate, key: body})
        if not document.get("current-context"):
            document["current-context"] = candidate
        backup = _write(path, document, existed)
    note = (f"{name!r} is taken in {path} by another cluster: merged as {candidate!r}"
            if candidate != name else "")
    return MergeResult(candidate, path, backup, changed=True, note=note)


def remove(context: str, *, target: Path | None = None) -> Path | None:
    """Remove ``context`` and, when no other context uses them, its cluster and user.

    Returns:
        The file it was removed from (backed up first, as ``merge`` does); None when the
        context was not there (the file is then untouched).

    Raises:
        ConfigError: ``target`` is not a kubeconfig, or cannot be written.
    """
    path = _resolve(target)
    if not path.exists():
        return None
    with _file_lock(path):
        document, existed = _read(path)
        entry = _entry(document, "contexts", context)
        if not existed or entry is None:
            return None
        document["contexts"] = [c for c in document["contexts"] if c.get("name") != context]
        left = [c.get("context") or {} for c in document["contexts"]]
        for section, key in (("clusters", "cluster"), ("users", "user")):
            if entry.get(key) and all(c.get(key) != entry[key] for c in left):
                document[section] = [e for e in document.get(section) or []
                                     if e.get("name") != entry[key]]
        if document.get("current-context") == context:
            document["current-context"] = ""
        _write(path, document, existed)
        return path


def _incoming(text: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The cluster, user and context bodies of the new cluster's kubeconfig."""
    try:
        document = yaml.safe_load(text)
        _check_shape(document)
    except (yaml.YAMLError, ConfigError) as error:
        raise ConfigError(f"the new cluster's kubeconfig is not usable: {_brief(error)}") from None
    contexts = document.get("contexts") or []
    chosen = (_entry(document, "contexts", document.get("current-context") or "")
              or (contexts[0].get("context") if len(contexts) == 1 else None))
    if not isinstance(chosen, dict):
        raise ConfigError("the new cluster's kubeconfig names no single context to merge")
    cluster = _entry(document, "clusters", chosen.get("cluster") or "")
    user = _entry(document, "users", chosen.get("user") or "")
    if not isinstance(cluster, dict) or not cluster.get("server") or not isinstance(user, dict):
        raise ConfigError("the new cluster's kubeconfig lacks its context's cluster "
                          "(with a server) or user")
    context = {k: v for k, v in chosen.items() if k not in ("cluster", "user")}
    return cluster, user, context


def _check_shape(document: Any) -> None:
    if not isinstance(document, dict):
        raise ConfigError("not a mapping")
    for section, key in _SECTIONS:
        entries = document.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get(key) or {}, dict) for e in entries):
            raise ConfigError(f"{section!r} is not a list of named {key} entries")


def _entry(document: dict[str, Any], section: str, name: str) -> dict[str, Any] | None:
    key = section[:-1]
    return next((e.get(key) or {} for e in document.get(section) or []
                 if e.get("name") == name), None)


def _resolve(target: Path | None) -> Path:
    path = Path(target).expanduser() if target is not None else default_target()
    return Path(os.path.realpath(path))


def _read(path: Path) -> tuple[dict[str, Any], bool]:
    """The kubeconfig at ``path`` (a new one when it does not exist) and whether it did."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [],
                "users": [], "contexts": [], "current-context": ""}, False
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {_brief(error)}") from None
    try:
        document = yaml.safe_load(text) if text.strip() else {"apiVersion": "v1",
                                                              "kind": "Config"}
        _check_shape(document)
    except (yaml.YAMLError, ConfigError) as error:
        raise ConfigError(f"{path} is not a kubeconfig mlops-tui can change "
                          f"({_brief(error)}); it was left as it is") from None
    return document, True


def _write(path: Path, document: dict[str, Any], existed: bool) -> Path | None:
    """Back ``path`` up (when it existed), then replace it; returns the backup."""
    backup = None
    try:
        if existed:
            backup = _backup_name(path)
            with open(backup, "xb") as copy, open(path, "rb") as original:
                os.fchmod(copy.fileno(), 0o600)
                shutil.copyfileobj(original, copy)
        else:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        write_atomic(path, data.encode())
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {_brief(error)}") from None
    return backup


def _backup_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d%H%M%S")
    for index in range(_MAX_SUFFIX):
        candidate = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{index}" if index else ""))
        if not candidate.exists():
            return candidate
    raise ConfigError(f"too many backups of {path} this second")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """client-go's lock: ``<file>.lock`` created exclusively, removed after."""
    lock = path.with_name(path.name + ".lock")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise ConfigError(f"{lock} exists: another program is writing the kubeconfig "
                                  "(remove the file if none is)") from None
            time.sleep(0.05)
        except OSError as error:
            raise ConfigError(f"cannot lock {path}: {_brief(error)}") from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)


def _brief(error: BaseException) -> str:
    """One line about ``error`` that quotes none of the file (it may hold keys)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, yaml.MarkedYAMLError):
        where = f" at line {error.problem_mark.line + 1}" if error.problem_mark else ""
        return f"not YAML: {error.problem or error.context}{where}"
    if isinstance(error, yaml.YAMLError):
        return "not YAML"
    return (str(error).splitlines() or [type(error).__name__])[0][:160]
