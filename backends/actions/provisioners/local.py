"""k3s-local: this machine's preflight (the same facts script preflight runs over SSH, run
here through a subprocess) and reading a root-only file here (sudo when not root)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from mlops_tui.backends.errors import BackendError, ConfigError

LOCAL = "this machine"
FACTS_TIMEOUT_S = 60.0


@dataclass
class LocalReport:
    """A preflight report of this machine (HostReport's shape)."""

    host: str = LOCAL
    checks: list[Any] = field(default_factory=list)
    facts: Any = None
    environment_error: str = ""
    needs_sudo_password: bool = False

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)


async def _run(argv: list[str], stdin: bytes | None, timeout: float) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except (TimeoutError, asyncio.CancelledError):
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out, err


async def local_report(gpu: bool = False, path: str = "k3s-local") -> LocalReport:
    """Run the facts script here and check the facts as preflight checks a server.

    Raises:
        ConfigError: the script could not run.
    """
    from mlops_tui.backends.ssh import checks
    from mlops_tui.backends.ssh.facts import FACTS_SCRIPT, parse_facts

    try:
        code, out, err = await _run(["sh", "-s"], FACTS_SCRIPT.encode(), FACTS_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot gather this machine's facts: {exc}") from None
    if code != 0 and not out:
        raise ConfigError(f"the facts script failed here: {err.decode(errors='replace')[-200:]}")
    facts = parse_facts(out.decode("utf-8", "replace"))
    sudo = {"root": "root: no sudo needed", "nopasswd": "without a password",
            "password": "with a password (asked for)"}.get(facts.sudo)
    rows = [checks.Check("sudo", "ok" if sudo else "fail", sudo or "no sudo here",
                         "" if sudo else "install sudo, or run as root"),
            *checks.system(facts), *checks.resources(facts, "server"),
            checks.runtime(facts, path), checks.gpus(facts, requested=gpu),
            checks.ports(facts, checks.ports_for(path, "server"))]
    return LocalReport(checks=rows, facts=facts,
                       needs_sudo_password=facts.sudo == "password")


async def read_root_file(path: str, password: str | None) -> str:
    """A root-only file of this machine: read directly as root, else through sudo (the
    password on stdin, never in argv).

    Raises:
        ConfigError: sudo refused or the file is missing.
    """
    if os.geteuid() == 0:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    argv = ["sudo", "-S", "-p", "", "--", "cat", path] if password else \
        ["sudo", "-n", "--", "cat", path]
    try:
        code, out, err = await _run(argv, (password + "\n").encode() if password else b"", 30)
    except (OSError, TimeoutError) as exc:
        raise BackendError(f"cannot run sudo here: {exc}") from None
    if code != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        raise ConfigError(f"sudo cat {path} on this machine: {reason[0][:200]}")
    return out.decode("utf-8", "replace")
