"""A real OpenSSH server of the test's own: ``/usr/sbin/sshd`` on a loopback high port, or
on port 22 inside a network namespace (:class:`~tests.servers.netns.TestHost`).

Everything it needs lives under ``workdir``: a config, an ed25519 host key, a client key
(ed25519, no passphrase) authorized for root, a ``known_hosts`` holding exactly this host's
key line, the pid file and the log (other users' keys: :meth:`SshdHost.authorize`).
Key-only auth, ``UsePAM no``, ``StrictModes no`` (the keys sit under /tmp), SFTP and TCP
forwarding on (a jump host, Ansible). The only change
outside ``workdir`` is ``/run/sshd`` (sshd's privilege-separation dir), made if missing
and left: it is harmless.

Typical use::

    with SshdHost(tmp_path / "h1") as host:            # 127.0.0.1:<free port>
        ssh -i host.client_key -o UserKnownHostsFile=host.known_hosts -p host.port root@127.0.0.1
    with TestHost() as ns, SshdHost(tmp_path / "h2", netns=ns, hostname="h2") as host:
        ...                                             # ns.ip:22, its own hostname

``stop()`` ends the listening sshd and every session it forked (by PID: sshd puts each
connection in a session of its own, so a process group would miss them), like a host that
drops; ``start()`` again brings it back on the same address, port and keys.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from tests.cluster.controlplane import free_port
from tests.servers.netns import TestHost

SSHD = Path("/usr/sbin/sshd")
READY_TIMEOUT_S = 10.0
PRIVSEP_DIR = Path("/run/sshd")


class SshdError(RuntimeError):
    """sshd could not be set up or did not start (the message carries its log's tail)."""


def missing_reason() -> str:
    """Why a test sshd cannot run here ("" when it can)."""
    if not SSHD.exists():
        return "no /usr/sbin/sshd (apt-get install -y openssh-server)"
    if os.geteuid() != 0:
        return "the test sshd runs as root (it logs users in)"
    for tool in ("/usr/bin/ssh-keygen",):
        if not Path(tool).exists():
            return f"no {tool} (apt-get install -y openssh-client)"
    return ""


def keygen(path: Path, comment: str = "mlops-tui-test") -> Path:
    """An ed25519 key pair without passphrase at ``path`` / ``path.pub``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(path.suffix + ".pub")):
        stale.unlink(missing_ok=True)
    _check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path


def fingerprint(public_key_file: Path) -> str:
    """``SHA256:...`` of a public key file, as ``ssh-keygen -l`` prints it."""
    out = _check(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key_file)])
    return out.split()[1]


def _check(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise SshdError(f"{argv[0]} failed: {result.stderr.strip()[:300]}")
    return result.stdout


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """PIDs below ``pid`` (children first found, then theirs), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue and len(found) < 10_000:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class SshdHost:
    """A real sshd a test starts and stops; see the module docstring."""

    __test__ = False  # not a pytest class

    def __init__(self, workdir: Path, *, netns: TestHost | None = None, port: int | None = None,
                 hostname: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.netns = netns
        self.address = netns.ip if netns else "127.0.0.1"
        self.port = port if port is not None else (22 if netns else free_port())
        self.user = "root"
        self.hostname = hostname  # a UTS name of its own (netns only): `hostname` prints it
        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.client_key = self.workdir / "client_ed25519"
        self.known_hosts = self.workdir / "known_hosts"
        self.config = self.workdir / "sshd_config"
        self.log = self.workdir / "sshd.log"
        self.authorized_dir = self.workdir / "authorized_keys"
        self.host_key_fingerprint = ""
        self._proc: subprocess.Popen | None = None
        self._keys_made = False

    # -- what a client needs --------------------------------------------------------

    @property
    def known_hosts_name(self) -> str:
        """The host as known_hosts names it: ``[addr]:port``, or ``addr`` on port 22."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    @property
    def host_key_line(self) -> str:
        """This host's known_hosts line."""
        kind, blob = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{self.known_hosts_name} {kind} {blob}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def authorize(self, user: str, public_key: Path | None = None) -> Path:
        """Let ``user`` log in with ``public_key`` (default: :attr:`client_key`'s).

        Root's keys live in :attr:`authorized_dir`; another user's in its own
        ``~/.ssh/authorized_keys`` (sshd reads them as that user, and ``workdir`` is
        usually in a root-only temporary directory), removed with the user's home.

        Returns:
            The authorized_keys file written.
        """
        source = public_key or self.client_key.with_suffix(".pub")
        if user == "root":
            self.authorized_dir.mkdir(parents=True, exist_ok=True)
            target = self.authorized_dir / user
        else:
            entry = pwd.getpwnam(user)
            target = Path(entry.pw_dir) / ".ssh" / "authorized_keys"
            target.parent.mkdir(mode=0o700, exist_ok=True)
            os.chown(target.parent, entry.pw_uid, entry.pw_gid)
        lines = target.read_text() if target.exists() else ""
        target.write_text(lines + source.read_text().strip() + "\n")
        target.chmod(0o644)
        if user != "root":
            os.chown(target, entry.pw_uid, entry.pw_gid)
        return target

    # -- lifecycle ------------------------------------------------------------------

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        if not self._keys_made:
            keygen(self.host_key, "mlops-tui-test-host")
            keygen(self.client_key, "mlops-tui-test-client")
            self.authorize(self.user)
            self._keys_made = True
        self.host_key_fingerprint = fingerprint(self.host_key.with_suffix(".pub"))
        self.known_hosts.write_text(self.host_key_line + "\n")
        self.known_hosts.chmod(0o600)
        self.config.write_text(f"""\
Port {self.port}
ListenAddress {self.address}
HostKey {self.host_key}
PidFile {self.workdir / "sshd.pid"}
AuthorizedKeysFile {self.authorized_dir}/%u .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 64
MaxSessions 64
LogLevel VERBOSE
Subsystem sftp internal-sftp
""")

    def start(self) -> Self:
        """Start sshd and return once it answers with an SSH banner (≤ 10 s).

        Raises:
            SshdError: sshd is missing, exited, or never answered.
        """
        if self.pid is not None:
            return self
        reason = missing_reason()
        if reason:
            raise SshdError(reason)
        self._prepare()
        argv = [str(SSHD), "-D", "-f", str(self.config), "-E", str(self.log)]
        if self.netns:
            if self.hostname:
                argv = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"',
                        self.hostname, *argv]
            argv = ["ip", "netns", "exec", self.netns.name, *argv]
        with open(self.workdir / "sshd.stdout", "ab") as out:
            # a session of its own: a test's Ctrl-C does not reach it before stop() does
            self._proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except SshdError:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise SshdError(f"sshd exited with {self._proc.returncode}:\n{_tail(self.log)}"
                                f"\n{_tail(self.workdir / 'sshd.stdout')}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(64).startswith(b"SSH-2.0"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise SshdError(f"sshd on {self.address}:{self.port} did not answer within "
                        f"{READY_TIMEOUT_S:.0f} s:\n{_tail(self.log)}")

    def stop(self) -> None:
        """End the listening sshd and every session it forked (by PID), like a host that
        drops. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # collect before the listener dies: its orphans would be re-parented out of reach
        sessions = _descendants(proc.pid)
        proc.terminate()
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        deadline = time.monotonic() + 5
        while sessions and time.monotonic() < deadline:
            sessions = [pid for pid in sessions if Path(f"/proc/{pid}").exists()
                        and not _zombie(pid)]
            time.sleep(0.05)
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
