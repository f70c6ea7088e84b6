"""Step bodies every provisioner shares: preflight, a playbook run, the reset.

Each body is ``body(ctx: StepContext) -> AsyncIterator[StepEvent]``: it streams output and
progress, returns normally (the engine ends the step ok / changed) or raises (failed with
the message; ``StepSkipped`` for skipped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.actions.base import CheckFailed
from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.provisioning.contract import (
    StepContext,
    StepEvent,
    StepSkipped,
    StepStatus,
)

if TYPE_CHECKING:
    from mlops_tui.backends.actions.provisioners.base import ClusterProvisioner
from mlops_tui.backends.actions.provisioners.base import GPU_HOSTS, SUDO_ASKS

MARK = {"ok": "✓", "warn": "!", "fail": "✗"}


def check_line(host: str, check: Any) -> str:
    """One row of the preflight table: ``✗ h1 swap: on (2 GiB) — turn swap off: ...``."""
    fix = f" — {check.fix}" if getattr(check, "fix", "") and check.status != "ok" else ""
    return f"{MARK.get(check.status, '?')} {host} {check.name}: {check.value}{fix}"


def sudo_wants_password(report: Any) -> bool:
    """Whether preflight found that sudo on this host asks for a password none was given
    for."""
    return bool(getattr(report, "needs_sudo_password", False))


def gpu_count(report: Any) -> int:
    return len(getattr(getattr(report, "facts", None), "gpus", None) or ())


def environment_problem(reports: list[Any]) -> str:
    """``HOST: reason`` of each host that could not be checked (unreachable, host key,
    sudo), on one line; "" when every host answered."""
    return "; ".join(r.environment_error for r in reports if r.environment_error)


def failed_checks(reports: list[Any]) -> list[str]:
    return [check_line(r.host, c) for r in reports for c in r.checks if c.status == "fail"]


def preflight(p: ClusterProvisioner, path: str):
    """The preflight step: every host checked (SSH, sudo, resources, ports, GPUs); the
    hosts with GPUs and those whose sudo wants a password are left in the scratch."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        if p.settings.local:
            async for event in _local_preflight(p, ctx):
                yield event
            return
        reports, lines = await _collect(ctx, p, path, None)
        asking = [r.host for r in reports if sudo_wants_password(r)]
        if asking:  # checked again with the password: the sudo checks need it
            ctx.scratch[SUDO_ASKS] = asking
            reports, lines = await _collect(ctx, p, path, await p.sudo_password(ctx.scratch))
        for event in lines:
            yield event
        problem = environment_problem(reports)
        if problem:
            raise ConfigError(problem)
        failures = failed_checks(reports)
        if failures:
            raise CheckFailed(f"{len(failures)} preflight check{'s' if len(failures) > 1 else ''}"
                              f" failed: {'; '.join(failures[:3])}")
        ctx.scratch[GPU_HOSTS] = {r.host: gpu_count(r) for r in reports if gpu_count(r)}
        ctx.scratch.setdefault(SUDO_ASKS, [])
    return body


async def _collect(ctx: StepContext, p: ClusterProvisioner, path: str, password: str | None
                   ) -> tuple[list[Any], list[StepEvent]]:
    """Every host's report, and the table as output lines."""
    from mlops_tui.backends.ssh.preflight import run_preflight

    reports: list[Any] = []
    out: list[StepEvent] = []
    total = len(p.settings.hosts)
    stream = run_preflight(p.settings.hosts, path=path, known_hosts=p.known_hosts,
                           decide=p.ask_host_key, accept_new=p.accept_new_host_keys,
                           sudo_password=password, ssh_config=p.ssh_config,
                           gpu=p.settings.gpu)
    async with aclosing(stream) as reports_in:
        async for report in reports_in:
            reports.append(report)
            out.append(ctx.progress(f"{report.host} checked", len(reports) / max(total, 1)))
            out.extend(ctx.output(check_line(report.host, c), host=report.host)
                       for c in report.checks)
    if password:
        p.remember_sudo_password(password)
    return reports, out


async def _local_preflight(p: ClusterProvisioner, ctx: StepContext
                           ) -> AsyncIterator[StepEvent]:
    """This machine's facts, through the same script preflight runs over SSH."""
    from mlops_tui.backends.actions.provisioners.local import local_report

    report = await local_report(p.settings.gpu)
    for check in report.checks:
        yield ctx.output(check_line(report.host, check), host=report.host)
    failures = failed_checks([report])
    if failures:
        raise CheckFailed(f"preflight failed on this machine: {'; '.join(failures[:3])}")
    ctx.scratch[GPU_HOSTS] = {"localhost": gpu_count(report)} if gpu_count(report) else {}
    ctx.scratch[SUDO_ASKS] = ["this machine"] if sudo_wants_password(report) else []


def playbook(p: ClusterProvisioner, step: str, name: str, *, limit: str | None = None,
             only_hosts: list[str] | None = None, extravars: dict[str, Any] | None = None):
    """A step that runs one playbook; its task results stream as output lines, its tasks
    as progress, and it ends changed with Ansible's counts (ok when nothing changed)."""
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        from mlops_tui.backends.ansible.runner import run_playbook

        password = await p.sudo_password(ctx.scratch)
        variables = {**p.variables(ctx.scratch), **(extravars or {}), **p.settings.extra_vars}
        result = None
        stream = run_playbook(p.playbook(step, name), inventory=p.inventory(),
                              extravars=variables, workdir=p.workdir, check=p.check_mode,
                              become_password=password,
                              # the control machine's own plays (the bundle check) run too
                              limit=f"{limit}:localhost" if limit else None)
        async with aclosing(stream) as events:
            async for event in events:
                if event.kind == "stats":
                    result = event.result
                elif event.kind == "task":
                    yield ctx.progress(event.task, event.fraction)
                else:
                    yield ctx.output(event.line(), host=event.host)
        if result is None:
            raise BackendError(f"{name} ended without a result")
        if not result.ok:
            where = ", ".join(result.failed_hosts) or "the run"
            raise BackendError(f"{name} failed on {where}: {result.error or result.status}")
        counts = {"changed": result.changed, "stats": result.stats,
                  "check_mode": p.check_mode}
        status = StepStatus.CHANGED if result.changed else StepStatus.OK
        summary = f"{result.changed} changed" if result.changed else "nothing changed"
        yield ctx.event(status, summary + (" (check mode)" if p.check_mode else ""),
                        data=counts)
    return body


def skip_unless(condition: bool, reason: str) -> None:
    if not condition:
        raise StepSkipped(reason)


def skip_in_check_mode(p: ClusterProvisioner) -> None:
    if p.check_mode:
        raise StepSkipped("check mode: nothing was installed, so there is no cluster to use")
