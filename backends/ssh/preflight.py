"""Preflight: reach every host, read its facts, and judge them for a provisioning path.

``run_preflight`` checks the hosts concurrently (a bounded number at a time) and yields one
:class:`HostReport` per host as it completes. A host that cannot be reached, whose host key
is refused, or whose sudo refuses, gets a report with ``environment_error`` set and a single
check explaining it (a script exits 2 on those); anything else is a table of checks, each
``ok``, ``warn`` or ``fail`` with what to do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.provisioning.contract import PATHS, HostKeyDecision, HostKeyOffer
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh import checks
from mlops_tui.backends.ssh.checks import Check
from mlops_tui.backends.ssh.errors import HostKeyChanged, HostKeyUnknown, SudoFailed
from mlops_tui.backends.ssh.facts import FACTS_SCRIPT, HostFacts, parse_facts
from mlops_tui.backends.ssh.facts_parse import unix_time
from mlops_tui.backends.ssh.session import SshSession
from mlops_tui.backends.ssh.sudo import PASSWORD_HINT

__all__ = ["Check", "HostReport", "check_host", "run_preflight"]
CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class HostReport:
    """One host's preflight."""

    host: str  # HostSpec.label
    checks: list[Check]
    facts: HostFacts | None = None
    environment_error: str = ""  # unreachable / host key / sudo: the reason, one line
    target: str = ""  # user@address:port as dialled
    needs_sudo_password: bool = False  # sudo asked for a password none was given for
    host_key_offer: HostKeyOffer | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        """Any check failed (an environment error is a failed check too)."""
        return any(c.status == "fail" for c in self.checks)

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "warn"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: host, target, environment_error, checks (no secret is ever here)."""
        return {"host": self.host, "target": self.target,
                "environment_error": self.environment_error,
                "checks": [c.as_dict() for c in self.checks]}


def _environment(host: HostSpec, name: str, exc: BackendError, target: str = "",
                 **extra: Any) -> HostReport:
    fixes = {"host key": "check the fingerprint with the host's owner before accepting it",
             "sudo": "", "reachable": "check the address, port, user and key; ssh to it by "
                                       "hand to see more"}
    message = str(exc)
    return HostReport(host.label, [Check(name, "fail", message, fixes.get(name, ""))],
                      environment_error=f"{host.label}: {message}", target=target, **extra)


async def _skew(session: SshSession, samples: int = 3) -> tuple[float | None, float]:
    """The host clock minus ours, from the sample with the shortest round trip."""
    best: tuple[float | None, float] = (None, 0.0)
    for _ in range(samples):
        before = time.time()
        result = await session.run("date +%s.%N", timeout=10)
        after = time.time()
        remote = unix_time(result.stdout)
        if remote is not None and (best[0] is None or after - before < best[1]):
            best = (remote - (before + after) / 2, after - before)
    return best


async def _sudo(session: SshSession, facts: HostFacts, password: str | None) -> Check:
    """The sudo check: nothing to do as root or with NOPASSWD; with a password, try it.

    Raises:
        SudoFailed: no sudo, a password needed and none given, or the password refused.
    """
    mode = facts.sudo
    if mode == "root" or session.is_root:
        return Check("sudo", "ok", "root: no sudo needed")
    if mode == "nopasswd":
        return Check("sudo", "ok", "without a password")
    if mode == "absent":
        raise SudoFailed(f"there is no sudo on {session.host.hostname}: install it, or "
                         f"connect as root")
    if password is None:
        raise SudoFailed(f"sudo on {session.host.hostname} needs a password: {PASSWORD_HINT}")
    await session.run("true", sudo=True, sudo_password=password, timeout=30)
    return Check("sudo", "ok", "with a password")


async def check_host(host: HostSpec, *, path: str, known_hosts: Path | None,
                     decide: HostKeyDecision | None = None, accept_new: bool = False,
                     sudo_password: str | None = None, ssh_config: Path | None = None,
                     gpu: bool = False, ports: Sequence[tuple[int, str]] | None = None,
                     timeout: float = 10) -> HostReport:
    """Preflight one host (see :func:`run_preflight`); never raises for a host's trouble."""
    try:
        session = await SshSession.open(host, known_hosts=known_hosts, decide=decide,
                                        accept_new=accept_new, ssh_config=ssh_config,
                                        timeout=timeout)
    except HostKeyUnknown as exc:
        return _environment(host, "host key", exc, host_key_offer=exc.offer)
    except HostKeyChanged as exc:
        return _environment(host, "host key", exc)
    except BackendError as exc:
        return _environment(host, "reachable", exc)
    target = session.host.target
    async with session:
        try:
            result = await session.run(FACTS_SCRIPT, timeout=60)
            facts = parse_facts(result.stdout)
            skew, rtt = await _skew(session)
            sudo = await _sudo(session, facts, sudo_password)
        except SudoFailed as exc:
            return _environment(host, "sudo", exc, target,
                                needs_sudo_password="needs a password" in str(exc))
        except BackendError as exc:
            return _environment(host, "reachable", exc, target)
    role = "server" if "server" in host.roles else "agent"
    reachable = Check("reachable", "ok", f"{target} · {facts.hostname or '?'} · "
                                         f"{session.host_key_type} {session.host_key_fingerprint}")
    rows = [reachable, sudo, *checks.system(facts), *checks.resources(facts, role),
            checks.runtime(facts, path), checks.gpus(facts, requested=gpu),
            checks.ports(facts, ports if ports is not None else checks.ports_for(path, role)),
            checks.clock(skew, rtt)]
    return HostReport(host.label, rows, facts, target=target)


def _one_at_a_time(decide: HostKeyDecision | None) -> HostKeyDecision | None:
    """Hosts run concurrently, but a user answers one host key question at a time."""
    if decide is None:
        return None
    lock = asyncio.Lock()

    async def serial(offer: HostKeyOffer) -> bool:
        async with lock:
            return await decide(offer)

    return serial


async def run_preflight(hosts: list[HostSpec], *, path: str, known_hosts: Path | None,
                        decide: HostKeyDecision | None = None, accept_new: bool = False,
                        sudo_password: str | None = None, ssh_config: Path | None = None,
                        gpu: bool = False, ports: Sequence[tuple[int, str]] | None = None,
                        timeout: float = 10, concurrency: int = CONCURRENCY,
                        ) -> AsyncIterator[HostReport]:
    """Preflight ``hosts`` for ``path``, yielding each host's report as it completes.

    Args:
        hosts: the hosts, with their roles (a server is held to higher minimums).
        path: one of :data:`PATHS` (it decides the ports and the runtime clash checks).
        known_hosts: the known_hosts file (None: ``~/.ssh/known_hosts``).
        decide: asked about unknown host keys, one question at a time.
        accept_new: record unknown host keys without asking (never a changed one).
        sudo_password: tried when sudo asks for one (never logged, never stored).
        ssh_config: the ssh config file (None: ``~/.ssh/config``).
        gpu: GPUs were asked for: a host without one gets a warning.
        ports: check these ``(port, "tcp"|"udp")`` on every host instead of the path's.
        timeout: seconds for each connection step.
        concurrency: hosts checked at the same time.

    Raises:
        ConfigError: an unknown path.
    """
    if path not in PATHS:
        raise ConfigError(f"unknown provisioning path {path!r}: use one of {', '.join(PATHS)}")
    gate = asyncio.Semaphore(max(1, concurrency))
    ask = _one_at_a_time(decide)

    async def one(host: HostSpec) -> HostReport:
        async with gate:
            return await check_host(host, path=path, known_hosts=known_hosts, decide=ask,
                                    accept_new=accept_new, sudo_password=sudo_password,
                                    ssh_config=ssh_config, gpu=gpu, ports=ports,
                                    timeout=timeout)

    tasks = [asyncio.ensure_future(one(host)) for host in hosts]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
