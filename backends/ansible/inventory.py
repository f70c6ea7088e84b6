"""The Ansible inventory for a cluster's hosts: groups ``server`` and ``agent``, the SSH
settings each host resolved to, and host keys checked against one known_hosts file.

Hosts are duck-typed (``backends/ssh`` resolves them; this package never imports it): each
has ``label``, ``hostname``, ``port``, ``user``, ``key_files`` and ``jump`` (``None`` or an
object with ``hostname``, ``port``, ``user`` and optionally ``key_files``); its roles come
from :func:`build`'s ``roles`` argument, else ``roles`` / ``spec.roles`` on the host. The
inventory never holds a secret: keys are paths.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from mlops_tui.backends.errors import ConfigError

#: Ansible's interpreter discovery, without a warning per host in the log
AUTO_PYTHON = "auto_silent"


class JumpLike(Protocol):
    hostname: str
    port: int
    user: str


class ResolvedHostLike(Protocol):
    label: str
    hostname: str
    port: int
    user: str
    key_files: Sequence[str | Path]
    jump: JumpLike | None


def _roles(host: Any, roles_by_label: Mapping[str, Iterable[str]]) -> list[str]:
    roles = roles_by_label.get(host.label)
    if roles is None:
        roles = getattr(host, "roles", None)
    if roles is None:
        roles = getattr(getattr(host, "spec", None), "roles", None)
    return list(roles or ["server"])


def _group(host: Any, roles_by_label: Mapping[str, Iterable[str]]) -> str:
    """k3s's words: a host that is a server is never also listed as an agent."""
    return "server" if "server" in _roles(host, roles_by_label) else "agent"


def _strict_options(known_hosts: Path) -> list[str]:
    return ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null"]


def _proxy_command(jump: Any, *, known_hosts: Path, fallback_keys: Iterable[str]) -> str:
    """A ProxyCommand through the jump host. ProxyJump would not do: ssh passes none of the
    command line's ``-o`` options to the jump connection, so its host key would be checked
    against ~/.ssh/known_hosts instead of ours (and prompt, in a run nobody answers)."""
    keys = [str(k) for k in (getattr(jump, "key_files", None) or ())] or list(fallback_keys)
    argv = ["ssh", *_strict_options(known_hosts), "-o", "BatchMode=yes",
            "-p", str(jump.port)]
    for key in keys:
        argv += ["-i", key]
    argv += ["-l", str(jump.user), "-W", "%h:%p", str(jump.hostname)]
    return shlex.join(argv)


def host_vars(host: ResolvedHostLike, *, known_hosts: Path,
              python_interpreter: str = AUTO_PYTHON) -> dict[str, Any]:
    """The connection variables of one host.

    Args:
        host: a resolved host (see the module docstring).
        known_hosts: the known_hosts file every host key (the jump's too) is checked against.
        python_interpreter: the hosts' Python (see :func:`build`).

    Returns:
        ``ansible_host``, ``ansible_port``, ``ansible_user``, the first key file as
        ``ansible_ssh_private_key_file`` (the others as ``-i`` options) and
        ``ansible_ssh_common_args``.
    """
    keys = [str(k) for k in (host.key_files or ())]
    common = _strict_options(known_hosts)
    for extra in keys[1:]:
        common += ["-o", f"IdentityFile={extra}"]
    if host.jump is not None:
        common += ["-o", "ProxyCommand=" + _proxy_command(
            host.jump, known_hosts=known_hosts, fallback_keys=keys)]
    result: dict[str, Any] = {
        "ansible_host": host.hostname,
        "ansible_port": int(host.port),
        "ansible_user": host.user,
        "ansible_ssh_common_args": shlex.join(common),
        "ansible_python_interpreter": python_interpreter,
    }
    if keys:
        result["ansible_ssh_private_key_file"] = keys[0]
    return result


def local_inventory() -> dict[str, Any]:
    """This machine as the one server, reached without SSH (k3s-local, install.sh --k3s).

    Returns:
        ``localhost`` in group ``server``, ``ansible_connection: local``, run by this
        Python (the modules need only the standard library).
    """
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {"all": {"children": {"server": {"hosts": {"localhost": localhost}},
                                 "agent": {"hosts": {}}}}}


def build(hosts: Sequence[ResolvedHostLike], *, known_hosts: Path, local: bool = False,
          roles: Mapping[str, Iterable[str]] | None = None,
          python_interpreter: str = AUTO_PYTHON) -> dict[str, Any]:
    """The inventory ansible-runner takes (the YAML/JSON inventory format as a dict).

    Args:
        hosts: the resolved hosts, servers and agents (ignored when ``local``).
        known_hosts: the known_hosts file host keys are checked against (strictly: a host
            whose key is not there is unreachable; preflight records keys first).
        local: this machine only, with a local connection.
        roles: each host's roles by label (``HostSpec.roles``: a resolved host does not
            carry them); else the host's own ``roles`` / ``spec.roles``; else "server".
        python_interpreter: the hosts' Python: Ansible's discovery by default; a path
            where discovery is misled (a login shell's PATH with pyenv shims first finds a
            ``python3.13`` shim that cannot run).

    Returns:
        ``{"all": {"children": {"server": {"hosts": {...}}, "agent": {"hosts": {...}}}}}``,
        hosts named by their label.

    Raises:
        ConfigError: no host, or two hosts with one label.
    """
    if local:
        return local_inventory()
    if not hosts:
        raise ConfigError("an inventory needs at least one host")
    known_hosts = Path(known_hosts).expanduser().absolute()
    groups: dict[str, dict[str, Any]] = {"server": {}, "agent": {}}
    for host in hosts:
        if any(host.label in members for members in groups.values()):
            raise ConfigError(f"host {host.label!r} is listed twice")
        groups[_group(host, roles or {})][host.label] = host_vars(
            host, known_hosts=known_hosts, python_interpreter=python_interpreter)
    return {"all": {"children": {name: {"hosts": members}
                                 for name, members in groups.items()}}}
