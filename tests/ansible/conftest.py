"""The Ansible tests' fixtures: the real sshd hosts of :mod:`tests.servers.sshd_fixtures`, and a
resolved-host stand-in (``backends/ansible`` duck-types H2's ``ResolvedHost``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Host:
    """What ``inventory.build`` reads from a resolved host."""

    label: str
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    jump: Host | None = None
    roles: tuple[str, ...] = ("server",)


def host_of(sshd, *, label: str = "h1", user: str | None = None, port: int | None = None,
            roles: tuple[str, ...] = ("server",)) -> Host:
    """``sshd`` (a :class:`tests.servers.sshd.SshdHost`) as a resolved host."""
    return Host(label, sshd.address, port or sshd.port, user or sshd.user,
                (str(sshd.client_key),), None, roles)


#: the sshd hosts are this machine, where root's login PATH puts pyenv shims first: Ansible's
#: discovery would pick a python3.13 shim that cannot run
HOST_PYTHON = "/usr/bin/python3"


def all_text(root: Path) -> bytes:
    """Every file's bytes under ``root`` (to look for a secret)."""
    chunks = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                chunks.append(path.read_bytes())
            except OSError:
                pass
    return b"\n".join(chunks)
