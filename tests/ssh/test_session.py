"""SshSession against real sshd hosts: commands, host keys, ssh config, jump host, files,
timeouts and a host that drops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.provisioning.contract import HostKeyOffer
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh.errors import CommandTimedOut, HostKeyChanged, HostKeyUnknown
from mlops_tui.backends.ssh.files import RemoteFileError
from mlops_tui.backends.ssh.session import SshSession
from tests.cluster.controlplane import free_port
from tests.servers.sshd import SshdHost, fingerprint, keygen
from tests.servers.sshd_fixtures import require_sshd


def spec(host: SshdHost, **over) -> HostSpec:
    fields = {"address": host.address, "port": host.port, "user": host.user,
              "key": str(host.client_key)}
    return HostSpec(**(fields | over))


async def test_run_returns_exit_code_and_both_streams(sshd_host: SshdHost) -> None:
    async with await SshSession.open(spec(sshd_host), known_hosts=sshd_host.known_hosts) as s:
        result = await s.run("echo out; echo err >&2; exit 7")
        assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")
        assert (await s.run("true")).ok
        assert s.host_key_fingerprint == sshd_host.host_key_fingerprint
        big = await s.run("head -c 9000000 /dev/zero")
        assert big.truncated and len(big.stdout) == 8 * 1024 * 1024


async def test_unknown_host_key_is_refused_and_the_file_left_alone(
        sshd_host: SshdHost, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with pytest.raises(HostKeyUnknown) as err:
        await SshSession.open(spec(sshd_host), known_hosts=known)
    offer = err.value.offer
    assert offer == HostKeyOffer(f"[127.0.0.1]:{sshd_host.port}", "ssh-ed25519",
                                 sshd_host.host_key_fingerprint)
    assert not known.exists()


async def test_accept_new_records_the_key_once(sshd_host: SshdHost, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    async with await SshSession.open(spec(sshd_host), known_hosts=known, accept_new=True):
        pass
    assert known.read_text() == sshd_host.host_key_line + "\n"
    assert known.stat().st_mode & 0o777 == 0o600
    async with await SshSession.open(spec(sshd_host), known_hosts=known) as s:
        assert (await s.run("echo again")).stdout == "again\n"
    assert known.read_text() == sshd_host.host_key_line + "\n"


@pytest.mark.parametrize("answer", [True, False])
async def test_decide_callback(sshd_host: SshdHost, tmp_path: Path, answer: bool) -> None:
    known = tmp_path / "known_hosts"
    asked: list[HostKeyOffer] = []

    async def decide(offer: HostKeyOffer) -> bool:
        asked.append(offer)
        return answer

    if answer:
        async with await SshSession.open(spec(sshd_host), known_hosts=known, decide=decide):
            pass
        assert sshd_host.host_key_line in known.read_text()
    else:
        with pytest.raises(HostKeyUnknown):
            await SshSession.open(spec(sshd_host), known_hosts=known, decide=decide)
        assert not known.exists()
    assert [o.fingerprint for o in asked] == [sshd_host.host_key_fingerprint]


async def test_changed_host_key_is_refused_with_both_fingerprints(
        sshd_host: SshdHost, tmp_path: Path) -> None:
    impostor = keygen(tmp_path / "old_host_key").with_suffix(".pub")
    kind, blob = impostor.read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"{sshd_host.known_hosts_name} {kind} {blob}\n")
    before = known.read_text()

    async def yes(offer: HostKeyOffer) -> bool:
        raise AssertionError("a changed key must never be offered for acceptance")

    with pytest.raises(HostKeyChanged) as err:
        await SshSession.open(spec(sshd_host), known_hosts=known, accept_new=True, decide=yes)
    message = str(err.value)
    assert sshd_host.host_key_fingerprint in message
    assert fingerprint(impostor) in message
    assert f"-R '[127.0.0.1]:{sshd_host.port}'" in message
    assert known.read_text() == before  # never replaced


async def test_ssh_config_supplies_hostname_port_user_and_key(
        sshd_host: SshdHost, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(f"Host lab-gpu\n  HostName {sshd_host.address}\n  Port {sshd_host.port}\n"
                      f"  User root\n  IdentityFile {sshd_host.client_key}\n")
    async with await SshSession.open(HostSpec(address="lab-gpu"), ssh_config=config,
                                     known_hosts=sshd_host.known_hosts) as s:
        assert s.host.target == f"root@127.0.0.1:{sshd_host.port}"
        assert (await s.run("id -un")).stdout.strip() == "root"


async def test_auth_failure_names_the_key_file_never_its_content(
        sshd_host: SshdHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # no agent keys to fall back on
    wrong = keygen(tmp_path / "wrong_key")
    with pytest.raises(ConnectionFailed) as err:
        await SshSession.open(spec(sshd_host, key=str(wrong)), known_hosts=sshd_host.known_hosts)
    message = str(err.value)
    assert message.startswith(f"ssh root@127.0.0.1:{sshd_host.port}: authentication failed")
    assert str(wrong) in message
    secret_lines = [line for line in wrong.read_text().splitlines() if "PRIVATE" not in line]
    assert all(line not in message for line in secret_lines)
    missing = tmp_path / "nope"
    with pytest.raises(ConnectionFailed, match="nope \\(missing\\)"):
        await SshSession.open(spec(sshd_host, key=str(missing)),
                              known_hosts=sshd_host.known_hosts)


async def test_unreachable_port(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ConnectionFailed, match=f"root@127.0.0.1:{port}: Connection refused"):
        await SshSession.open(HostSpec(address="127.0.0.1", port=port, user="root"),
                              known_hosts=tmp_path / "kh", timeout=3)


async def test_jump_host_through_the_loopback_sshd(
        sshd_host: SshdHost, netns_sshd_host: SshdHost, tmp_path: Path) -> None:
    target = netns_sshd_host
    # the jump (127.0.0.1) has no key of its own in this spec: it tries the target's key
    sshd_host.authorize("root", target.client_key.with_suffix(".pub"))
    known = tmp_path / "known_hosts"
    known.write_text(target.host_key_line + "\n")
    host = spec(target, jump=f"root@127.0.0.1:{sshd_host.port}")
    # the jump's host key is checked too: unknown → refused, naming the jump
    with pytest.raises(HostKeyUnknown) as err:
        await SshSession.open(host, known_hosts=known)
    assert err.value.offer.host == sshd_host.known_hosts_name
    known.write_text(target.host_key_line + "\n" + sshd_host.host_key_line + "\n")
    accepted_before = sshd_host.log.read_text().count("Accepted publickey")
    async with await SshSession.open(host, known_hosts=known) as s:
        assert (await s.run("hostname")).stdout.strip() == "mlops-ssh-ns"
        assert s.host_key_fingerprint == target.host_key_fingerprint
    # the loopback sshd logged one more login: the jump's
    assert sshd_host.log.read_text().count("Accepted publickey") == accepted_before + 1


async def test_files_read_and_written(sshd_host: SshdHost, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"line\n\x00binary\xff")
    remote = tmp_path / "remote" / "copy.bin"
    remote.parent.mkdir()
    async with await SshSession.open(spec(sshd_host), known_hosts=sshd_host.known_hosts) as s:
        await s.put_file(local, str(remote), mode=0o600)
        assert remote.read_bytes() == local.read_bytes()
        assert remote.stat().st_mode & 0o777 == 0o600
        await s.put_bytes(b"abc", str(remote))
        assert await s.read_file(str(remote)) == b"abc"
        with pytest.raises(RemoteFileError, match="no-such-file"):
            await s.read_file(str(tmp_path / "no-such-file"))
        with pytest.raises(RemoteFileError, match="no such file"):
            await s.put_file(tmp_path / "absent", str(remote))


async def test_timeout_and_cancel(sshd_host: SshdHost) -> None:
    async with await SshSession.open(spec(sshd_host), known_hosts=sshd_host.known_hosts) as s:
        with pytest.raises(CommandTimedOut, match="ran past 0.5 s"):
            await s.run("sleep 20", timeout=0.5)
        task = asyncio.ensure_future(s.run("sleep 20"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert (await s.run("echo still usable")).ok


async def test_host_dropping_mid_command(tmp_path: Path) -> None:
    require_sshd()
    with SshdHost(tmp_path / "drop") as host:
        session = await SshSession.open(spec(host), known_hosts=host.known_hosts)
        async with session:
            task = asyncio.ensure_future(session.run("sleep 30"))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(host.stop)
            with pytest.raises(ConnectionFailed, match="connection lost"):
                await asyncio.wait_for(task, 10)
        host.start()  # back on the same port and key: a new session works
        async with await SshSession.open(spec(host), known_hosts=host.known_hosts) as again:
            assert (await again.run("echo back")).stdout == "back\n"
