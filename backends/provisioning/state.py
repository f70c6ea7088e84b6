"""Per-cluster state under the XDG state dir: what apply did, so it can resume and destroy.

Each cluster has a directory ``<root>/<cluster>/`` (0700) holding ``state.json`` (0600),
its ``lock`` and whatever the provisioner keeps there (Ansible private dirs, Terraform
state). The state is written atomically (temp file, fsync, rename, fsync of the dir), so a
process killed at any moment leaves the previous state or the new one, never half of one.
No secret is ever stored: host keys are paths, the sudo password is asked each run, and a
key that looks like a secret in ``options`` or ``scratch`` is refused (``ValueError``: a
bug in the caller, not a user error).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_state_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.names import label_problem
from mlops_tui.backends.provisioning.contract import ClusterStatus
from mlops_tui.backends.provisioning.hosts import HostSpec

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATE_FILE = "state.json"
Phase = Literal["planned", "applying", "failed", "ready", "destroying", "destroyed"]
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)|token|secret|private[_-]?key", re.IGNORECASE)
_SECRET_VALUE = "PRIVATE KEY-----"


def check_cluster_name(name: str) -> str:
    """Return ``name`` when it can name a cluster (a DNS-1123 label: it becomes a directory
    and a kubeconfig context).

    Raises:
        ConfigError: it cannot, with the reason.
    """
    problem = label_problem(name) if isinstance(name, str) else "must be a string"
    if problem:
        raise ConfigError(f"invalid cluster name {str(name)[:70]!r}: {problem}")
    return name


def check_no_secrets(values: Any, where: str) -> None:
    """Refuse what must never reach a state file: a key that looks like a secret, a private
    key's text, or a value that is not JSON.

    Raises:
        ValueError: naming the key (never the value).
    """
    def walk(value: Any, trail: str, depth: int) -> None:
        if depth > 32:
            raise ValueError(f"{trail} is nested too deeply to store")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError(f"{trail} has a non-string key {type(key).__name__}")
                if _SECRET_KEY.search(key):
                    raise ValueError(f"{trail}.{key} looks like a secret: secrets are never "
                                     "stored in a cluster's state")
                walk(item, f"{trail}.{key}", depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{trail}[{index}]", depth + 1)
        elif isinstance(value, str):
            if _SECRET_VALUE in value:
                raise ValueError(f"{trail} holds a private key: never stored in a state")
        elif value is not None and not isinstance(value, bool | int | float):
            raise ValueError(f"{trail} is a {type(value).__name__}, not a JSON value")

    walk(values, where, 0)


class ClusterState(BaseModel):
    """What the state file of one cluster holds (no secret, ever)."""

    # no input in error messages: a refused value may be the secret that was refused
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    schema_version: int = SCHEMA_VERSION
    cluster: str
    path: str  # one of contract.PATHS
    hosts: list[HostSpec] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)  # gpu, monitoring, airgap, versions
    phase: Phase = "planned"
    completed: list[str] = Field(default_factory=list)  # PlanStep ids, in the order done
    scratch: dict[str, Any] = Field(default_factory=dict)  # facts steps leave for later ones
    context: str | None = None  # the kubeconfig context it was merged as
    last_error: str = ""
    created: float = Field(default_factory=time.time)
    updated: float = Field(default_factory=time.time)

    @field_validator("cluster")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        problem = label_problem(value)
        if problem:
            raise ValueError(f"invalid cluster name: {problem}")
        return value

    @field_validator("options", "scratch")
    @classmethod
    def _no_secret(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check_no_secrets(value, info.field_name)
        return value

    def status(self, plan: Sequence[str] = ()) -> ClusterStatus:
        """This state as :class:`ClusterStatus`; ``plan`` (the apply step ids in order)
        gives ``next_step``, the first one not done."""
        next_step = next((step for step in plan if step not in self.completed), None)
        return ClusterStatus(
            cluster=self.cluster, path=self.path, phase=self.phase,
            completed=tuple(self.completed), next_step=next_step, context=self.context,
            last_error=self.last_error, hosts=tuple(h.label for h in self.hosts),
            updated=self.updated)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: temp file in the same dir, fsync, rename, fsync dir.

    Raises:
        OSError: the write failed (the old file is then untouched).
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


class StateStore:
    """The clusters' state files under ``root``.

    Args:
        root: where the per-cluster dirs live; default
            ``$XDG_STATE_HOME/mlops-tui/clusters`` (``~/.local/state/...``).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else user_state_path("mlops-tui") / "clusters"

    def dir(self, cluster: str) -> Path:
        """The cluster's own dir (created, 0700): its state, lock and private files.

        Raises:
            ConfigError: ``cluster`` is not a valid name; the dir cannot be made.
        """
        check_cluster_name(cluster)
        try:
            _private_dir(self.root)
            return _private_dir(self.root / cluster)
        except OSError as error:
            raise ConfigError(f"cannot create the state dir {self.root / cluster}: "
                              f"{error.strerror or error}") from None

    def load(self, cluster: str, *, set_aside_corrupt: bool = False) -> ClusterState | None:
        """The cluster's state, or None when it has none.

        Args:
            set_aside_corrupt: a state file that cannot be read is renamed to
                ``state.json.corrupt-<time>`` (kept for a look) and None returned; without
                it such a file is an error and stays as it is.

        Raises:
            ConfigError: invalid name; the file is unreadable or not a state (unless
                ``set_aside_corrupt``); it was written by a newer mlops-tui.
        """
        path = self.root / check_cluster_name(cluster) / STATE_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
        problem, version = "", None
        try:
            document = json.loads(raw)
            version = document.get("schema_version") if isinstance(document, dict) else None
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise ConfigError(f"{path} was written by a newer mlops-tui (schema {version}); "
                                  "upgrade mlops-tui to use it")
            state = ClusterState.model_validate(document)
            if state.cluster != cluster:
                problem = f"it names cluster {state.cluster!r}"
        except (ValueError, UnicodeDecodeError) as error:  # JSON and pydantic errors
            problem = _first_line(error)
        if not problem:
            return state
        if set_aside_corrupt:
            aside = path.with_name(f"{STATE_FILE}.corrupt-{time.strftime('%Y%m%d%H%M%S')}")
            try:
                os.replace(path, aside)
            except OSError as error:
                raise ConfigError(f"cannot set {path} aside: {error.strerror or error}") from None
            log.warning("unreadable state of cluster %s set aside as %s", cluster, aside)
            return None
        raise ConfigError(f"{path} is not a state mlops-tui can read ({problem}); it is kept "
                          "as it is: apply again without resume to set it aside and start over")

    def save(self, state: ClusterState) -> None:
        """Write ``state`` atomically (0600) and stamp ``state.updated``.

        Raises:
            ValueError: ``options`` or ``scratch`` holds something that looks like a secret
                or is not JSON (a bug in the caller).
            ConfigError: the file cannot be written.
        """
        check_no_secrets(state.options, "options")
        check_no_secrets(state.scratch, "scratch")
        directory = self.dir(state.cluster)
        state.updated = time.time()
        data = state.model_dump_json(indent=2).encode()
        try:
            write_atomic(directory / STATE_FILE, data)
        except OSError as error:
            raise ConfigError(f"cannot write {directory / STATE_FILE}: "
                              f"{error.strerror or error}") from None

    def list(self) -> list[ClusterState]:
        """Every cluster with a readable state, by name (an unreadable one is logged and
        left out: :meth:`load` names its problem)."""
        if not self.root.is_dir():
            return []
        states = []
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir() or label_problem(entry.name):
                continue
            try:
                state = self.load(entry.name)
            except ConfigError as error:
                log.warning("%s", error)
                continue
            if state is not None:
                states.append(state)
        return states

    @contextlib.contextmanager
    def lock(self, cluster: str) -> Iterator[None]:
        """Hold the cluster's apply lock (``flock``; the kernel frees it when the process
        dies, so a killed apply never leaves a stale lock). The holder's PID is in the file.

        Raises:
            ConfigError: another process (or this one) holds it, naming its PID.
        """
        path = self.dir(cluster) / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                who = ("this mlops-tui" if holder == str(os.getpid())
                       else f"another mlops-tui (pid {holder or 'unknown'})")
                raise ConfigError(f"cluster {cluster!r} is being applied by {who}") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

    def remove(self, cluster: str) -> None:
        """Delete the cluster's dir and everything in it (after a destroy).

        Raises:
            ConfigError: invalid name; an apply holds the lock; it cannot be deleted.
        """
        directory = self.root / check_cluster_name(cluster)
        if not directory.exists():
            return
        with self.lock(cluster):
            try:
                shutil.rmtree(directory)
            except OSError as error:
                raise ConfigError(f"cannot remove {directory}: {error.strerror or error}") from None


def _first_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        return f"{where}: {first['msg']}"[:200]
    return (str(error).splitlines() or [type(error).__name__])[0][:200]
