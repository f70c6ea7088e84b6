"""An SSH session to one host: run commands (optionally through sudo), read and write files.

::

    async with await SshSession.open(host, known_hosts=path, accept_new=False) as s:
        result = await s.run("uname -r")
        await s.run("swapoff -a", sudo=True, sudo_password=password)

paramiko is blocking: every call runs in a thread, with a timeout; a timeout or a
cancelled caller closes the command's channel (a remote process without a terminal may
run on). Output is capped (:data:`OUTPUT_CAP`); ``CommandResult.truncated`` says when
some was dropped. As root no sudo is used.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import paramiko

from mlops_tui.backends.errors import ConnectionFailed
from mlops_tui.backends.provisioning.contract import HostKeyDecision
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh import sudo as sudo_cmd
from mlops_tui.backends.ssh.config import ResolvedHost, resolve
from mlops_tui.backends.ssh.connect import in_thread, open_with_jump
from mlops_tui.backends.ssh.errors import CommandTimedOut
from mlops_tui.backends.ssh.files import FILE_CAP, RemoteFileError, sftp_read, sftp_write
from mlops_tui.backends.ssh.hostkeys import KnownHosts, fingerprint

log = logging.getLogger(__name__)
OUTPUT_CAP = 8 * 1024 * 1024  # bytes kept per stream of a command


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int  # -1: ended by a signal
    stdout: str
    stderr: str
    truncated: bool = False  # output past OUTPUT_CAP was dropped

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class _Raw:
    exit_code: int
    stdout: bytes
    stderr: bytes
    truncated: bool


class SshSession:
    """One authenticated connection (and its jump host's, if any). Use :meth:`open`."""

    def __init__(self, host: ResolvedHost, transport: paramiko.Transport,
                 jump: paramiko.Transport | None = None) -> None:
        self.host = host
        self._transport = transport
        self._jump = jump
        self.host_key_fingerprint = fingerprint(transport.get_remote_server_key())
        self.host_key_type = transport.get_remote_server_key().get_name()

    @classmethod
    async def open(cls, host: HostSpec | ResolvedHost, *, known_hosts: Path | None,
                   decide: HostKeyDecision | None = None, accept_new: bool = False,
                   ssh_config: Path | None = None, timeout: float = 10) -> SshSession:
        """Connect and authenticate (through the jump host when there is one).

        Args:
            host: a spec (resolved against ``ssh_config``) or an already resolved host.
            known_hosts: the known_hosts file (None: ``~/.ssh/known_hosts``).
            decide: asked about an unknown host key; True records it and goes on.
            accept_new: record unknown host keys without asking (never a changed one).
            ssh_config: the ssh config file (None: ``~/.ssh/config``).
            timeout: seconds for each of connect, handshake, authentication.

        Raises:
            ConnectionFailed: unreachable, timeout, authentication failed.
            HostKeyUnknown: an unknown host key not accepted (``.offer`` says which).
            HostKeyChanged: the host's key differs from the known one.
            ConfigError: a bad ssh config, an unwritable known_hosts.
        """
        resolved = host if isinstance(host, ResolvedHost) else resolve(host, ssh_config)
        known = await in_thread(KnownHosts, known_hosts)
        transport, jump = await open_with_jump(resolved, known, decide=decide,
                                               accept_new=accept_new, timeout=timeout)
        transport.set_keepalive(15)
        return cls(resolved, transport, jump)

    @property
    def label(self) -> str:
        return self.host.label

    @property
    def is_root(self) -> bool:
        """Logged in as root: sudo is never used."""
        return self.host.user == "root"

    @property
    def connected(self) -> bool:
        return self._transport.is_active()

    async def close(self) -> None:
        self._transport.close()
        if self._jump is not None:
            self._jump.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- commands -------------------------------------------------------------------

    async def run(self, cmd: str, *, sudo: bool = False, sudo_password: str | None = None,
                  timeout: float = 60) -> CommandResult:
        """Run ``cmd`` (a POSIX shell command line) and wait for it.

        Returns:
            Its exit code and output (decoded as UTF-8, bad bytes replaced).

        Raises:
            SudoFailed: sudo refused (needs a password, wrong one, not a sudoer, no sudo).
            CommandTimedOut: it ran past ``timeout`` seconds (its channel was closed).
            ConnectionFailed: the connection dropped.
        """
        raw = await self._run_raw(cmd, sudo=sudo, sudo_password=sudo_password,
                                  timeout=timeout, cap=OUTPUT_CAP)
        return CommandResult(raw.exit_code, raw.stdout.decode("utf-8", "replace"),
                             raw.stderr.decode("utf-8", "replace"), raw.truncated)

    async def _run_raw(self, cmd: str, *, sudo: bool, sudo_password: str | None,
                       timeout: float, cap: int) -> _Raw:
        stdin = b""
        wrapped = None
        if sudo and not self.is_root:
            wrapped = sudo_cmd.wrap(cmd, with_password=sudo_password is not None)
            cmd = wrapped.command
            if sudo_password is not None:
                stdin = sudo_password.encode() + b"\n"
        cancel = threading.Event()
        started = time.monotonic()
        try:
            raw = await in_thread(self._exec, cmd, stdin, timeout, cap, cancel)
        finally:
            cancel.set()  # a cancelled caller: the thread closes the channel and returns
        if wrapped is not None:
            raw.stderr, ran = sudo_cmd.split_stderr(raw.stderr, wrapped.marker)
            if not ran:
                raise sudo_cmd.refusal(raw.stderr, raw.exit_code, host=self.host.hostname,
                                       user=self.host.user,
                                       with_password=sudo_password is not None)
        log.debug("ssh %s: command%s exited %d after %.2f s", self.host.target,
                  " (sudo)" if wrapped else "", raw.exit_code, time.monotonic() - started)
        return raw

    def _exec(self, cmd: str, stdin: bytes, timeout: float, cap: int,
              cancel: threading.Event) -> _Raw:
        where = f"ssh {self.host.target}"
        try:
            channel = self._transport.open_session(timeout=min(timeout, 30))
            channel.exec_command(cmd)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectionFailed(f"{where}: cannot start a command "
                                   f"({exc or type(exc).__name__})") from None
        out, err = bytearray(), bytearray()
        truncated = False
        deadline = time.monotonic() + timeout
        pause = 0.002
        try:
            while True:
                busy = False
                while channel.recv_ready():
                    data, busy = channel.recv(65536), True
                    truncated |= _append(out, data, cap)
                while channel.recv_stderr_ready():
                    data, busy = channel.recv_stderr(65536), True
                    truncated |= _append(err, data, cap)
                if channel.exit_status_ready() and not (
                        channel.recv_ready() or channel.recv_stderr_ready()):
                    break
                if cancel.is_set():
                    raise ConnectionFailed(f"{where}: the command was cancelled")
                if time.monotonic() > deadline:
                    raise CommandTimedOut(f"{where}: a command ran past {timeout:g} s; its "
                                          f"channel was closed")
                if not self._transport.is_active():
                    raise ConnectionFailed(f"{where}: connection lost while a command ran")
                pause = 0.002 if busy else min(pause * 2, 0.05)
                time.sleep(0 if busy else pause)
        finally:
            channel.close()
        status = channel.recv_exit_status()
        if status == -1 and not self._transport.is_active():
            raise ConnectionFailed(f"{where}: connection lost while a command ran")
        return _Raw(status, bytes(out), bytes(err), truncated)

    # -- files ----------------------------------------------------------------------

    async def read_file(self, path: str, *, sudo: bool = False,
                        sudo_password: str | None = None) -> bytes:
        """The content of the remote file ``path`` (at most :data:`FILE_CAP` bytes).

        Raises:
            RemoteFileError: missing, unreadable, or larger than the cap.
            SudoFailed, ConnectionFailed: as for :meth:`run`.
        """
        if sudo and not self.is_root:
            raw = await self._run_raw(f"cat -- {shlex.quote(path)}", sudo=True,
                                      sudo_password=sudo_password, timeout=120,
                                      cap=FILE_CAP)
            if raw.exit_code != 0:
                reason = raw.stderr.decode("utf-8", "replace").strip().splitlines()
                raise RemoteFileError(f"{self.host.hostname}:{path}: "
                                      f"{reason[-1][:200] if reason else 'cannot be read'}")
            if raw.truncated:
                raise RemoteFileError(f"{self.host.hostname}:{path}: larger than "
                                      f"{FILE_CAP // 2**20} MiB")
            return raw.stdout
        return await in_thread(sftp_read, self._transport, self.host, path)

    async def put_file(self, local: Path, remote: str, *, mode: int = 0o644,
                       sudo: bool = False, sudo_password: str | None = None) -> None:
        """Copy the local file ``local`` to ``remote`` (created or replaced, ``mode``).

        With ``sudo`` (and not root) it goes to a private temporary file first (made 0600
        by ``mktemp`` before anything is written), then ``sudo install -D`` puts it in
        place, creating missing directories.

        Raises:
            RemoteFileError: the local file is missing, or the remote write failed.
            SudoFailed, ConnectionFailed: as for :meth:`run`.
        """
        if not Path(local).is_file():
            raise RemoteFileError(f"{local}: no such file")
        await self._put(Path(local), remote, mode, sudo, sudo_password)

    async def put_bytes(self, data: bytes, remote: str, *, mode: int = 0o644,
                        sudo: bool = False, sudo_password: str | None = None) -> None:
        """Write ``data`` to ``remote``; like :meth:`put_file`."""
        await self._put(data, remote, mode, sudo, sudo_password)

    async def _put(self, source: Path | bytes, remote: str, mode: int, sudo: bool,
                   sudo_password: str | None) -> None:
        if not (sudo and not self.is_root):
            await in_thread(sftp_write, self._transport, self.host, source, remote, mode)
            return
        made = await self.run("mktemp /tmp/.mlops-tui-XXXXXXXXXX")
        temp = made.stdout.strip()
        if not made.ok or not temp.startswith("/tmp/.mlops-tui-"):
            raise RemoteFileError(f"{self.host.hostname}: cannot make a temporary file in "
                                  f"/tmp ({made.stderr.strip()[:200]})")
        q_temp, q_remote = shlex.quote(temp), shlex.quote(remote)
        try:
            await in_thread(sftp_write, self._transport, self.host, source, temp, None)
            result = await self.run(f"install -D -m {mode:o} -- {q_temp} {q_remote}",
                                    sudo=True, sudo_password=sudo_password)
        finally:
            await self.run(f"rm -f -- {q_temp}")
        if not result.ok:
            raise RemoteFileError(f"{self.host.hostname}:{remote}: "
                                  f"{result.stderr.strip()[:200] or 'cannot be written'}")

def _append(buffer: bytearray, data: bytes, cap: int) -> bool:
    """Append up to ``cap`` bytes in all; True when something was dropped."""
    room = cap - len(buffer)
    if room > 0:
        buffer += data[:room]
    return len(data) > max(room, 0)
