"""known_hosts, as OpenSSH keeps it: check a server's key, record a newly accepted one.

A key the file holds for the host → known. No line for the host → unknown: refused
(:class:`HostKeyUnknown`) unless the caller accepts it (``accept_new``, or a ``decide``
callback saying yes), then one line is appended. Lines for the host but none with this key
→ changed: always refused (:class:`HostKeyChanged`), never replaced; the message says how to
remove the old line if the host was reinstalled.

Hashed host names (``|1|salt|hash``), comma-separated names, ``*``/``?`` patterns and
``!`` negations are understood; ``@revoked`` keys are refused; ``@cert-authority`` lines
are ignored (no certificate support). Unparseable lines are skipped, as ssh skips them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import paramiko

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.contract import HostKeyOffer
from mlops_tui.backends.ssh.errors import HostKeyChanged, HostKeyUnknown

log = logging.getLogger(__name__)
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it (base64, no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class _Entry:
    patterns: tuple[str, ...]
    key: paramiko.PKey
    revoked: bool = False


def _hashed_match(pattern: str, name: str) -> bool:
    try:
        _, _, salt64, digest64 = pattern.split("|", 3)
        salt, digest = base64.b64decode(salt64), base64.b64decode(digest64)
    except ValueError:
        return False
    mine = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mine, digest)


def _pattern_match(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        return _hashed_match(pattern, name)
    if "*" in pattern or "?" in pattern:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, name, re.IGNORECASE) is not None
    return pattern.lower() == name.lower()


def _matches(patterns: tuple[str, ...], name: str) -> bool:
    """OpenSSH's rule: a negated pattern that matches wins; else any positive match."""
    positive = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _pattern_match(pattern[1:], name):
                return False
        elif _pattern_match(pattern, name):
            positive = True
    return positive


class KnownHosts:
    """One known_hosts file (read when made; :meth:`add` appends to it)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or DEFAULT_KNOWN_HOSTS).expanduser()
        self._entries: list[_Entry] = []
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise ConfigError(f"known_hosts {self.path}: {exc.strerror}") from None
        for lineno, line in enumerate(text.splitlines(), 1):
            entry = self._parse(line.strip())
            if entry is None and line.strip() and not line.lstrip().startswith("#"):
                log.debug("known_hosts %s:%d: skipped an unreadable line", self.path, lineno)
            elif entry is not None:
                self._entries.append(entry)

    @staticmethod
    def _parse(line: str) -> _Entry | None:
        if not line or line.startswith("#"):
            return None
        revoked = False
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            if marker != "@revoked":
                return None  # @cert-authority: certificates are not supported
            revoked = True
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line.strip())
        except Exception:  # noqa: BLE001 - bad base64, odd key blobs: skipped as ssh does
            return None
        if entry is None or not entry.valid:
            return None
        return _Entry(tuple(entry.hostnames), entry.key, revoked)

    def known_types(self, name: str) -> list[str]:
        """Key types held for ``name`` (to prefer them in the handshake, as ssh does)."""
        return [e.key.get_name() for e in self._entries if not e.revoked
                and _matches(e.patterns, name)]

    def check(self, name: str, key: paramiko.PKey) -> bool:
        """True when ``key`` is known for ``name``; False when ``name`` has no key here.

        Raises:
            HostKeyChanged: ``name`` has keys here, none of them this one, or this key is
                revoked.
        """
        offered = fingerprint(key)
        mine = [e for e in self._entries if _matches(e.patterns, name)]
        if any(e.revoked and e.key.asbytes() == key.asbytes() for e in self._entries):
            raise HostKeyChanged(name, "this key marked @revoked", offered,
                                 self.remove_command(name))
        mine = [e for e in mine if not e.revoked]
        if any(e.key.asbytes() == key.asbytes() for e in mine):
            return True
        if not mine:
            return False
        same_type = [e for e in mine if e.key.get_name() == key.get_name()] or mine
        known = same_type[0].key
        raise HostKeyChanged(name, f"{known.get_name()} {fingerprint(known)}",
                             f"{key.get_name()} {offered}", self.remove_command(name))

    def remove_command(self, name: str) -> str:
        """The ssh-keygen command that removes ``name``'s lines from this file."""
        default = DEFAULT_KNOWN_HOSTS.expanduser()
        file = "" if self.path == default else f"-f '{self.path}' "
        return f"ssh-keygen {file}-R '{name}'"

    def add(self, name: str, key: paramiko.PKey) -> None:
        """Append ``name key`` (plain, not hashed) to the file, creating it 0600 (and its
        directory 0700) when missing.

        Raises:
            ConfigError: the file cannot be written.
        """
        line = f"{name} {key.get_name()} {key.get_base64()}\n"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as file:
                if file.tell() > 0 and not self._ends_with_newline():
                    file.write("\n")
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            raise ConfigError(f"cannot record the host key in {self.path}: "
                              f"{exc.strerror}") from None
        self._entries.append(_Entry((name,), key))
        log.info("host key of %s recorded in %s (%s)", name, self.path, fingerprint(key))

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as file:
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"

    def unknown(self, name: str, key: paramiko.PKey) -> HostKeyUnknown:
        """The refusal for an unknown key (its ``offer`` is what a user is asked)."""
        offer = HostKeyOffer(host=name, key_type=key.get_name(), fingerprint=fingerprint(key))
        return HostKeyUnknown(offer, str(self.path))
