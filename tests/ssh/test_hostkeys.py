"""known_hosts handling against files OpenSSH's own tools write (ssh-keygen -H, -l)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import paramiko
import pytest

from mlops_tui.backends.ssh.errors import HostKeyChanged
from mlops_tui.backends.ssh.hostkeys import KnownHosts, fingerprint
from tests.servers.sshd import fingerprint as keygen_fingerprint
from tests.servers.sshd import keygen


@pytest.fixture
def keys(tmp_path: Path) -> tuple[paramiko.PKey, paramiko.PKey, Path, Path]:
    first, second = keygen(tmp_path / "a"), keygen(tmp_path / "b")
    return (paramiko.PKey.from_path(first), paramiko.PKey.from_path(second),
            first.with_suffix(".pub"), second.with_suffix(".pub"))


def _line(name: str, pub: Path) -> str:
    kind, blob = pub.read_text().split()[:2]
    return f"{name} {kind} {blob}\n"


def test_fingerprint_is_what_ssh_keygen_prints(keys) -> None:
    key, _, pub, _ = keys
    assert fingerprint(key) == keygen_fingerprint(pub)
    assert not fingerprint(key).endswith("=")


def test_known_unknown_and_changed(tmp_path: Path, keys) -> None:
    key, other, pub, _ = keys
    path = tmp_path / "known_hosts"
    path.write_text("# a comment\n\nnot a valid line\n" + _line("[10.0.0.5]:2222", pub))
    known = KnownHosts(path)
    assert known.check("[10.0.0.5]:2222", key) is True
    assert known.check("10.0.0.5", key) is False  # port 22 is another name
    with pytest.raises(HostKeyChanged) as err:
        known.check("[10.0.0.5]:2222", other)
    message = str(err.value)
    assert fingerprint(key) in message and fingerprint(other) in message
    assert f"ssh-keygen -f '{path}' -R '[10.0.0.5]:2222'" in message
    assert err.value.known_fingerprint.endswith(fingerprint(key))


def test_hashed_entries_written_by_ssh_keygen(tmp_path: Path, keys) -> None:
    key, other, pub, _ = keys
    path = tmp_path / "known_hosts"
    path.write_text(_line("[127.0.0.1]:2200", pub) + _line("gpu1.lab", pub))
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True,
                   timeout=30)
    assert "127.0.0.1" not in path.read_text()  # really hashed
    known = KnownHosts(path)
    assert known.check("[127.0.0.1]:2200", key) and known.check("gpu1.lab", key)
    assert known.check("gpu2.lab", key) is False
    with pytest.raises(HostKeyChanged):
        known.check("gpu1.lab", other)


def test_patterns_negation_and_revoked(tmp_path: Path, keys) -> None:
    key, other, pub, other_pub = keys
    path = tmp_path / "known_hosts"
    path.write_text(_line("*.lab,!evil.lab", pub) + "@revoked " + _line("*", other_pub)
                    + "@cert-authority " + _line("*", pub))
    known = KnownHosts(path)
    assert known.check("gpu7.lab", key)
    assert known.check("evil.lab", key) is False
    with pytest.raises(HostKeyChanged, match="revoked"):
        known.check("fresh.example", other)


def test_add_creates_the_file_0600_and_appends(tmp_path: Path, keys) -> None:
    key, other, _, _ = keys
    path = tmp_path / "new" / "known_hosts"
    known = KnownHosts(path)
    known.add("[127.0.0.1]:2200", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.write_text(path.read_text().rstrip("\n"))  # a file whose last line has no newline
    KnownHosts(path).add("10.0.0.7", other)
    again = KnownHosts(path)
    assert again.check("[127.0.0.1]:2200", key) and again.check("10.0.0.7", other)
    assert len(path.read_text().splitlines()) == 2
