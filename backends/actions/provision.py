"""preflight, provision, destroy: bare machines → a cluster, and the way back.

preflight: one table of checks per host (SSH, sudo, resources, swap, cgroups, runtime, GPUs,
ports, clock); a host that cannot be checked (unreachable, refused host key, failed sudo) is
an environment error, "HOST: reason" on one line (exit 2 in a script); a failed check is a
check failure (exit 1). provision: the provisioner's plan (``plan_only``: that is the
result), then its step events, resumable. destroy: uninstall on every host, the kubeconfig
context removed, the state marked destroyed; ``confirm`` must repeat the cluster's name.

None of them needs a connected cluster (``needs_cluster=False``). A backend that makes its
own provisioners (:class:`~backends.protocols.ProvisionerSource`: the demo) is used as it
is; otherwise the real ones (``provisioners``) are built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import asdict
from typing import Any

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import ActionContext, ActionSpec, CheckFailed
from mlops_tui.backends.actions.events import ActionEvent, EventKind, Failure
from mlops_tui.backends.actions.provisioners import steps as shared
from mlops_tui.backends.actions.provisioners.requests import (
    DestroyRequest,
    PreflightRequest,
    ProvisionRequest,
)
from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.protocols import ProvisionerSource
from mlops_tui.backends.provisioning.contract import StepEvent, StepStatus

__all__ = ["SPECS", "DestroyRequest", "PreflightRequest", "ProvisionRequest", "provisioner"]


def provisioner(ctx: ActionContext, request: ProvisionRequest | DestroyRequest) -> Any:
    """The provisioner for ``request``: the backend's own, or a real one.

    Raises:
        ConfigError: unknown path; bad air-gap folder; destroy of an unknown cluster.
    """
    if isinstance(ctx.backend, ProvisionerSource):
        return ctx.backend.provisioner(request)
    from mlops_tui.backends.actions import provisioners

    if isinstance(request, DestroyRequest):
        return provisioners.from_state(request.cluster, ctx)
    return provisioners.build(request, ctx)


# -- preflight ------------------------------------------------------------------------------
def _report_data(report: Any) -> dict[str, Any]:
    return {"host": report.host,
            "checks": [{"name": c.name, "status": c.status, "value": c.value,
                        "fix": getattr(c, "fix", "")} for c in report.checks],
            "environment_error": report.environment_error or ""}


async def _reports(ctx: ActionContext, req: PreflightRequest, password: str | None
                   ) -> AsyncIterator[Any]:
    if isinstance(ctx.backend, ProvisionerSource):
        stream = ctx.backend.preflight(req)
    else:
        from mlops_tui.backends.ssh.preflight import run_preflight

        stream = run_preflight(
            list(req.hosts), path=req.path, known_hosts=_path(ctx, req.known_hosts),
            decide=ctx.ask_host_key, accept_new=req.accept_new_host_keys,
            sudo_password=password,
            ssh_config=_path(ctx, req.ssh_config) if req.ssh_config else None)
    async with aclosing(stream) as reports:
        async for report in reports:
            yield report


def _path(ctx: ActionContext, text: str) -> Any:
    from pathlib import Path

    return Path(ctx.path(text)).expanduser()


async def _collect(ctx: ActionContext, req: PreflightRequest, password: str | None
                   ) -> list[Any]:
    return [report async for report in _reports(ctx, req, password)]


async def run_preflight(ctx: ActionContext, req: PreflightRequest
                        ) -> AsyncIterator[ActionEvent]:
    yield events.progress(f"checking {len(req.hosts)} host{'s' * (len(req.hosts) > 1)}", 0.0)
    reports = await _collect(ctx, req, None)
    asking = [r.host for r in reports if shared.sudo_wants_password(r)]
    if asking and ctx.ask_secret is not None:
        password = await ctx.ask_secret(f"sudo password for {', '.join(asking)}")
        if password:  # checked again with it: the sudo checks need it
            reports = await _collect(ctx, req, password)
    for done, report in enumerate(reports, 1):
        for check in report.checks:
            yield events.output(shared.check_line(report.host, check))
        yield events.progress(f"{report.host} checked", done / len(req.hosts))
    table = {"hosts": [_report_data(r) for r in reports]}
    problem = shared.environment_problem(reports)
    if problem:
        raise ConfigError(problem)
    failures = shared.failed_checks(reports)
    if failures:
        raise CheckFailed(f"{len(failures)} check{'s' * (len(failures) > 1)} failed: "
                          f"{'; '.join(failures[:3])}", data=table)
    warned = sum(c.status == "warn" for r in reports for c in r.checks)
    yield events.ok(f"{len(reports)} host{'s' * (len(reports) > 1)} ready"
                    + (f", {warned} warning{'s' * (warned > 1)}" if warned else ""), table)


# -- provision and destroy -----------------------------------------------------------------
class _Progress:
    """Step events as action events: every one carries the step's id and status in
    ``data`` (the screen's step list), fractions are of the whole run."""

    def __init__(self) -> None:
        self.index, self.total = 0, 1
        self.results: list[dict[str, Any]] = []
        self.failed: StepEvent | None = None

    def overall(self, fraction: float | None = None) -> float:
        return min(1.0, (self.index + (fraction or 0.0)) / max(self.total, 1))

    def event(self, step: StepEvent) -> ActionEvent:
        data = {"step": step.step, "status": step.status.value, "host": step.host,
                "data": step.data}
        if step.status is StepStatus.STARTED:
            info = step.data if isinstance(step.data, dict) else {}
            self.index, self.total = info.get("index", self.index), info.get("total", self.total)
            return ActionEvent(EventKind.PROGRESS, f"{step.step}: {step.message}",
                               self.overall(), data)
        if step.status is StepStatus.OUTPUT:
            return ActionEvent(EventKind.OUTPUT, f"{step.step}: {step.message}", None, data)
        if step.status is StepStatus.WARNING:
            return ActionEvent(EventKind.WARNING, f"{step.step}: {step.message}", None, data)
        if step.status is StepStatus.PROGRESS:
            overall = step.data.get("overall") if isinstance(step.data, dict) else None
            fraction = overall if overall is not None else self.overall(step.fraction)
            return ActionEvent(EventKind.PROGRESS, f"{step.step}: {step.message}",
                               fraction, data)
        self.results.append({"step": step.step, "status": step.status.value,
                             "message": step.message})
        if step.status is StepStatus.FAILED:
            self.failed = step
        text = f"{step.step}: {step.status.value}" + (f": {step.message}" if step.message
                                                       else "")
        return ActionEvent(EventKind.PROGRESS, text, self.overall(1.0), data)


async def _follow(stream: AsyncIterator[StepEvent], progress: _Progress
                  ) -> AsyncIterator[ActionEvent]:
    async with aclosing(stream) as steps:
        async for step in steps:
            yield progress.event(step)


def plan_data(p: Any) -> list[dict[str, Any]]:
    return [asdict(step) for step in p.plan()]


async def run_provision(ctx: ActionContext, req: ProvisionRequest
                        ) -> AsyncIterator[ActionEvent]:
    if not req.plan_only:
        ctx.check_writable(f"provision of {req.cluster}")
    p = provisioner(ctx, req)
    planned = plan_data(p)
    for number, step in enumerate(planned, 1):
        yield events.output(f"{number}. {step['id']}: {step['title']}"
                            + (f" — {step['detail']}" if step["detail"] else ""))
    if req.plan_only:
        yield events.ok(f"plan of {req.cluster} ({req.path}): {len(planned)} steps, nothing "
                        "run", {"cluster": req.cluster, "path": req.path, "plan": planned})
        return
    progress = _Progress()
    async for event in _follow(p.apply(resume=req.resume), progress):
        yield event
    status = await p.status()
    data = {"cluster": req.cluster, "path": req.path, "steps": progress.results,
            "context": status.context, "phase": status.phase}
    if progress.failed is not None:
        failed = progress.failed
        environment = isinstance(failed.data, dict) and failed.data.get("environment")
        yield events.failed(f"step {failed.step} failed: {failed.message} (provision again "
                            "to resume from it)",
                            Failure.ENVIRONMENT if environment else Failure.CHECK, data)
        return
    yield events.ok(f"cluster {req.cluster} ready" + (
        f": kubectl --context {status.context} get nodes" if status.context else ""), data)


async def run_destroy(ctx: ActionContext, req: DestroyRequest) -> AsyncIterator[ActionEvent]:
    ctx.check_writable(f"destroy of {req.cluster}")
    p = provisioner(ctx, req)
    progress = _Progress()
    async for event in _follow(p.destroy(), progress):
        yield event
    failed = [r for r in progress.results if r["status"] == StepStatus.FAILED.value]
    data = {"cluster": req.cluster, "steps": progress.results}
    if failed:
        raise CheckFailed("destroy did not finish: " + "; ".join(
            f"{r['step']}: {r['message']}" for r in failed) + " (destroy again to retry)",
            data=data)
    yield events.ok(f"cluster {req.cluster} destroyed", data)


SPECS = (
    ActionSpec("preflight", PreflightRequest, run_preflight,
               "check hosts before provisioning (SSH, sudo, resources, ports, GPUs)",
               needs_cluster=False),
    ActionSpec("provision", ProvisionRequest, run_provision,
               "make a cluster: k3s here, k3s or kubeadm over SSH (resumable)",
               mutating=True, needs_cluster=False),
    ActionSpec("destroy", DestroyRequest, run_destroy,
               "uninstall a cluster this tool made and forget its context",
               mutating=True, needs_cluster=False),
)
