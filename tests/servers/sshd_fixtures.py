"""pytest fixtures for real SSH test hosts (:class:`~tests.servers.sshd.SshdHost`).

- ``sshd_host``: a real sshd on 127.0.0.1 at a free port (module scope), root login with
  ``client_key``; ``known_hosts`` holds its key.
- ``netns_sshd_host``: a real sshd on port 22 of a network namespace of the test's own
  (another address, hostname ``mlops-ssh-ns``), module scope.
- ``sudo_user``: a throwaway user (random name, random password) that sudo asks a password
  of, with ``sshd_host``'s client key authorized; removed with its home and its sudoers
  file afterwards.

They skip with the reason when sshd, sudo or network namespaces are missing, unless
``MLOPS_TUI_REQUIRE_SERVERS`` is set: then they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.netns import TestHost
from tests.servers.sshd import SshdError, SshdHost, missing_reason

REQUIRE_ENV = "MLOPS_TUI_REQUIRE_SERVERS"


def _skip(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
    pytest.skip(reason)


def require_sshd() -> None:
    reason = missing_reason()
    if reason:
        _skip(reason)


def _running(host: SshdHost, what: str) -> Iterator[SshdHost]:
    """A fixture's body: ``host`` started (a failure names ``what``), stopped after."""
    try:
        host.start()
    except SshdError as exc:
        pytest.fail(f"{what} did not start: {exc}", pytrace=False)
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="module")
def sshd_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdHost]:
    require_sshd()
    yield from _running(SshdHost(tmp_path_factory.mktemp("sshd")), "sshd")


@pytest.fixture(scope="module")
def netns_sshd_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdHost]:
    require_sshd()
    reason = TestHost.missing_reason()
    if reason:
        _skip(reason)
    with TestHost() as netns:
        host = SshdHost(tmp_path_factory.mktemp("sshd-ns"), netns=netns,
                        hostname="mlops-ssh-ns")
        yield from _running(host, "sshd in a network namespace")


@dataclass(frozen=True)
class SudoUser:
    name: str
    password: str  # a test secret: asserted never to show in logs or process lists
    sudoers_file: Path


def _run(argv: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip()[:200]}")


@pytest.fixture
def sudo_user(sshd_host: SshdHost) -> Iterator[SudoUser]:
    for tool in ("sudo", "visudo", "useradd", "userdel", "chpasswd"):
        if shutil.which(tool) is None:
            _skip(f"no {tool} (apt-get install -y sudo passwd)")
    name = f"mlt{secrets.token_hex(4)}"
    password = f"pw-{secrets.token_urlsafe(12)}"
    sudoers = Path(f"/etc/sudoers.d/mlops-test-{name}")
    _run(["useradd", "-m", "-s", "/bin/sh", name])
    try:
        # the password goes through chpasswd's stdin, never an argv
        _run(["chpasswd"], stdin=f"{name}:{password}\n")
        draft = sshd_host.workdir / f"sudoers-{name}"
        # timestamp_timeout=0: every sudo asks again (no credential cached between tests)
        draft.write_text(f"Defaults:{name} timestamp_timeout=0\n{name} ALL=(ALL:ALL) ALL\n")
        _run(["visudo", "-cf", str(draft)])
        shutil.copyfile(draft, sudoers)
        sudoers.chmod(0o440)
        sshd_host.authorize(name)
        yield SudoUser(name, password, sudoers)
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True, timeout=30)
