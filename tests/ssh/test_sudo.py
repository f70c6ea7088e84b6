"""sudo with a password, for real: a throwaway user whom sudo asks a password of, logged in
over the loopback sshd. The password must never reach argv (this machine's process list),
a log line, or a command's stdin."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh.errors import SudoFailed
from mlops_tui.backends.ssh.files import RemoteFileError
from mlops_tui.backends.ssh.preflight import check_host
from mlops_tui.backends.ssh.session import SshSession
from tests.servers.sshd import SshdHost
from tests.servers.sshd_fixtures import SudoUser


def user_spec(sshd_host: SshdHost, user: SudoUser) -> HostSpec:
    return HostSpec(address=sshd_host.address, port=sshd_host.port, user=user.name,
                    key=str(sshd_host.client_key))


def _cmdlines_holding(secret: bytes) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if secret in file.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


async def test_sudo_with_a_password(sshd_host: SshdHost, sudo_user: SudoUser,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # paramiko's and ours: nothing may carry the password
    password = sudo_user.password
    async with await SshSession.open(user_spec(sshd_host, sudo_user),
                                     known_hosts=sshd_host.known_hosts) as s:
        assert not s.is_root
        assert (await s.run("id -u")).stdout.strip() != "0"
        result = await s.run("id -u; echo to-stderr >&2", sudo=True, sudo_password=password)
        assert (result.exit_code, result.stdout, result.stderr) == (0, "0\n", "to-stderr\n")
        failing = await s.run("exit 3", sudo=True, sudo_password=password)
        assert failing.exit_code == 3  # the command's failure, not sudo's
        # a command that reads stdin never gets the password sudo did not consume
        assert (await s.run("cat", sudo=True, sudo_password=password)).stdout == ""
        # while a sudo command runs, no process on this machine shows the password
        sleeper = asyncio.ensure_future(s.run("sleep 2; echo slept", sudo=True,
                                              sudo_password=password))
        samples = []
        for _ in range(8):
            await asyncio.sleep(0.2)
            samples.append(_cmdlines_holding(password.encode()))
        assert (await sleeper).stdout == "slept\n"
        assert samples == [[]] * 8
    assert password not in caplog.text


async def test_sudo_refusals(sshd_host: SshdHost, sudo_user: SudoUser) -> None:
    async with await SshSession.open(user_spec(sshd_host, sudo_user),
                                     known_hosts=sshd_host.known_hosts) as s:
        with pytest.raises(SudoFailed, match="needs a password: set MLOPS_TUI_SUDO_PASSWORD"):
            await s.run("true", sudo=True)
        with pytest.raises(SudoFailed, match="refused the password") as err:
            await s.run("true", sudo=True, sudo_password="not-" + sudo_user.password)
        assert sudo_user.password not in str(err.value)


async def test_files_through_sudo(sshd_host: SshdHost, sudo_user: SudoUser,
                                  tmp_path: Path) -> None:
    root_only = tmp_path / "root-only"
    root_only.mkdir(mode=0o700)
    target = root_only / "etc" / "config.yaml"
    async with await SshSession.open(user_spec(sshd_host, sudo_user),
                                     known_hosts=sshd_host.known_hosts) as s:
        await s.put_bytes(b"token: x\n", str(target), mode=0o600, sudo=True,
                          sudo_password=sudo_user.password)
        assert target.read_bytes() == b"token: x\n"
        assert (target.stat().st_uid, target.stat().st_mode & 0o777) == (0, 0o600)
        assert await s.read_file(str(target), sudo=True,
                                 sudo_password=sudo_user.password) == b"token: x\n"
        with pytest.raises(RemoteFileError):
            await s.read_file(str(target))  # without sudo: permission denied
        leftovers = await s.run(f"find /tmp -maxdepth 1 -name '.mlops-tui-*' -user {sudo_user.name}")
        assert leftovers.stdout == ""  # the temporary copy is gone


async def test_preflight_sudo_check(sshd_host: SshdHost, sudo_user: SudoUser,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host = user_spec(sshd_host, sudo_user)
    asked = await check_host(host, path="k3s-ssh", known_hosts=sshd_host.known_hosts)
    assert asked.needs_sudo_password
    assert "needs a password" in asked.environment_error
    assert [c.name for c in asked.checks] == ["sudo"]
    ok = await check_host(host, path="k3s-ssh", known_hosts=sshd_host.known_hosts,
                          sudo_password=sudo_user.password, ports=[])
    assert ok.environment_error == ""
    assert next(c for c in ok.checks if c.name == "sudo").value == "with a password"
    wrong = await check_host(host, path="k3s-ssh", known_hosts=sshd_host.known_hosts,
                             sudo_password="wrong")
    assert "refused the password" in wrong.environment_error
    assert sudo_user.password not in caplog.text
    assert sudo_user.password not in repr([asked.as_dict(), ok.as_dict(), wrong.as_dict()])
