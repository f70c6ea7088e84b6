"""A test host of our own: a network namespace joined to this machine by a veth pair.

Used where loopback will not do: the API server refuses to proxy to 127.0.0.1, so a
service behind its service proxy must live at another address. The namespace, the veth
pair and the processes started in it are made by the test and removed by it (by PID).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Sequence
from typing import Self


class NetnsError(RuntimeError):
    pass


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class TestHost:
    """``host_ip`` on this machine's side, ``ip`` inside the namespace (a /30 of 10.213/16)."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        third = int(tag[:2], 16)
        fourth = (int(tag[2:4], 16) % 63) * 4
        self.name = f"mlops-{tag}"
        self.veth_host, self.veth_ns = f"vh{tag}", f"vn{tag}"
        self.host_ip = f"10.213.{third}.{fourth + 1}"
        self.ip = f"10.213.{third}.{fourth + 2}"
        self._procs: list[subprocess.Popen] = []
        self._made = False

    @staticmethod
    def missing_reason() -> str:
        if shutil.which("ip") is None:
            return "iproute2's ip is not installed"
        probe = TestHost()
        try:
            probe.start()
        except NetnsError as exc:
            return f"cannot create a network namespace here: {exc}"
        finally:
            probe.stop()
        return ""

    def start(self) -> Self:
        _ip("netns", "add", self.name)
        self._made = True
        _ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        _ip("link", "set", self.veth_ns, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.veth_host)
        _ip("link", "set", self.veth_host, "up")
        _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ip}/30", "dev", self.veth_ns)
        _ip("netns", "exec", self.name, "ip", "link", "set", self.veth_ns, "up")
        _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        return self

    def run(self, argv: Sequence[str], log_path: str) -> subprocess.Popen:
        """Start ``argv`` inside the namespace; it is stopped (by PID) with the host."""
        log = open(log_path, "wb")  # noqa: SIM115 - the process owns it until it exits
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self._procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._procs.clear()
        if self._made:
            subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True, timeout=10)
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
            self._made = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
