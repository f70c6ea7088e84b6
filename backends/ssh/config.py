"""Resolve a :class:`HostSpec` the way ``ssh HOST`` would: ``~/.ssh/config`` fills what the
spec leaves out (HostName, User, Port, IdentityFile, ProxyJump), then ssh's defaults.

Fields set in the spec win over the config. One jump host is supported (``ProxyJump a``);
a chain (``a,b`` or a jump that itself jumps) is refused with a clear error.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

import paramiko

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.hosts import HostSpec

DEFAULT_SSH_CONFIG = Path("~/.ssh/config")
# [USER@]HOST[:PORT], HOST possibly a bracketed IPv6 address (HostSpec validated it already;
# a ProxyJump from the config file has not been)
_JUMP = re.compile(r"^(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})@)?"
                   r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:@\s\[\]]+)(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True, slots=True)
class ResolvedHost:
    """Where and as whom to connect: what the spec and the ssh config say together."""

    label: str  # how tables name it (HostSpec.label, or the jump as written)
    hostname: str  # the address to dial
    port: int
    user: str
    key_files: tuple[str, ...] = ()  # absolute paths; empty: the agent, then ~/.ssh/id_*
    jump: ResolvedHost | None = None

    @property
    def known_hosts_name(self) -> str:
        """The host as known_hosts names it: ``[h]:p``, or ``h`` on port 22."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def target(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.user}@{self.hostname}:{self.port}"


def load_config(path: Path | None = None) -> paramiko.SSHConfig:
    """The ssh config at ``path`` (default ``~/.ssh/config``); an empty one when missing.

    Raises:
        ConfigError: the file cannot be read or parsed.
    """
    file = (path or DEFAULT_SSH_CONFIG).expanduser()
    if not file.is_file():
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(file))
    except (OSError, UnicodeDecodeError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise ConfigError(f"ssh config {file}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - paramiko raises bare errors on odd lines
        raise ConfigError(f"ssh config {file} cannot be read: {type(exc).__name__}") from None


def _lookup(config: paramiko.SSHConfig, alias: str) -> dict:
    try:
        return dict(config.lookup(alias))
    except Exception as exc:  # noqa: BLE001 - Match exec and tokens can fail many ways
        raise ConfigError(f"ssh config entry for {alias!r}: {exc}") from None


def _port(value: object, alias: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"ssh config gives {alias!r} the port {str(value)[:20]!r}: not a port")
    return port


def _key_files(values: list[str] | None) -> tuple[str, ...]:
    return tuple(os.path.expanduser(v) for v in values or () if v.lower() != "none")


def _single_jump(value: str, alias: str) -> str | None:
    value = value.strip()
    if not value or value.lower() == "none":
        return None
    if "," in value:
        raise ConfigError(f"{alias}: ProxyJump {value!r} has several hops; only one jump "
                          f"host is supported")
    return value


def resolve(host: HostSpec, ssh_config: Path | None = None) -> ResolvedHost:
    """Resolve ``host`` against the ssh config (``~/.ssh/config`` when None).

    Args:
        host: the spec; its port, user, key and jump override the config's.
        ssh_config: another config file (tests, a script's option); missing is fine.

    Returns:
        The host to dial, with its jump host resolved the same way.

    Raises:
        ConfigError: an unreadable config, a bad port, or more than one jump host.
    """
    config = load_config(ssh_config)
    entry = _lookup(config, host.address)
    key_files = (os.path.expanduser(host.key),) if host.key else _key_files(
        entry.get("identityfile"))
    jump_text = host.jump or _single_jump(entry.get("proxyjump", ""), host.label)
    jump = _resolve_jump(config, jump_text, host.label, key_files if host.key else ())
    return ResolvedHost(
        label=host.label,
        hostname=entry.get("hostname", host.address),
        port=host.port or _port(entry.get("port", 22), host.address),
        user=host.user or entry.get("user") or getpass.getuser(),
        key_files=key_files,
        jump=jump,
    )


def _resolve_jump(config: paramiko.SSHConfig, text: str | None, label: str,
                  fallback_keys: tuple[str, ...]) -> ResolvedHost | None:
    """The jump host ``[user@]host[:port]``, through the config too (as ssh does).

    A jump with no IdentityFile of its own tries the target's explicit key (a form gives
    one key for both), then the agent and ``~/.ssh/id_*``.
    """
    if not text:
        return None
    match = _JUMP.match(text)
    if not match:
        raise ConfigError(f"{label}: {text[:60]!r} is not a jump host: use [USER@]HOST[:PORT]")
    alias = match["host"].strip("[]")
    entry = _lookup(config, alias)
    if _single_jump(entry.get("proxyjump", ""), alias):
        raise ConfigError(f"{label}: the jump host {alias} has a ProxyJump of its own; only "
                          f"one jump host is supported")
    return ResolvedHost(
        label=text,
        hostname=entry.get("hostname", alias).strip("[]"),
        port=_port(match["port"], alias) if match["port"] else _port(entry.get("port", 22), alias),
        user=match["user"] or entry.get("user") or getpass.getuser(),
        key_files=_key_files(entry.get("identityfile")) or fallback_keys,
    )
