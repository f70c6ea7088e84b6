"""The demo's provisioner: the provision screen and script steps walk through a cluster
build in which nothing is installed, contacted or measured.

Every message says so ("demo: nothing is installed"); no number is made up (no CPU counts,
no GPU models, no timings). The steps and their ids are the real paths' (preflight,
prerequisites, k3s-server / kubeadm-init, ...), so the screen shows the same list; state
lives in memory, per backend, so resume and destroy work within one session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.contract import (
    ClusterStatus,
    PlanStep,
    StepEvent,
    StepStatus,
)

NOTHING = "demo: nothing is installed"
_SERVER = {"kubeadm-ssh": ("kubeadm-init", "kubeadm init", "kubeadm-join", "kubeadm join")}
_K3S = ("k3s-server", "k3s server", "k3s-agents", "k3s agents")


@dataclass(frozen=True, slots=True)
class DemoCheck:
    name: str
    status: str
    value: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class DemoReport:
    """A preflight report in HostReport's shape: nothing was contacted."""

    host: str
    checks: list[DemoCheck] = field(default_factory=list)
    facts: Any = None
    environment_error: str = ""

    @property
    def failed(self) -> bool:
        return False


async def demo_preflight(request: Any, sleep: Callable[[float], Awaitable[None]],
                         delay: float) -> AsyncIterator[DemoReport]:
    """One report per host of a preflight request, every check "demo: not contacted"."""
    for host in request.hosts:
        await sleep(delay)
        yield DemoReport(host.label, [DemoCheck(name, "ok", "demo: not contacted")
                                      for name in ("reachable", "sudo", "resources", "ports")])


@dataclass
class DemoState:
    """A demo cluster, shaped as far as the provision screen reads it like a real
    ``ClusterState`` (cluster, path, phase, hosts as the request gave them, options)."""

    path: str
    labels: tuple[str, ...]
    cluster: str = ""
    hosts: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    phase: str = "planned"
    completed: list[str] = field(default_factory=list)
    updated: float = 0.0


class DemoProvisioner:
    """Implements the Provisioner contract with simulated steps.

    Args:
        request: a provision request (or a destroy request: its cluster must be known).
        clusters: the backend's in-memory states, by cluster name.
        sleep / delay: the pause between steps, so a screen shows them going by.
    """

    def __init__(self, request: Any, clusters: dict[str, DemoState],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 delay: float = 0.2) -> None:
        self._clusters, self._sleep, self._delay = clusters, sleep, delay
        self._cluster = request.cluster
        known = clusters.get(request.cluster)
        path = getattr(request, "path", None) or (known.path if known else "k3s-ssh")
        hosts = getattr(request, "hosts", None)
        labels = tuple(h.label for h in hosts) if hosts is not None else (
            known.labels if known else ())
        self._path, self._hosts = path, labels or ("this machine",)
        self._agents = tuple(h.label for h in hosts or () if "server" not in h.roles)
        self._specs = list(hosts or (known.hosts if known else []))
        self._airgap = getattr(request, "airgap", None) or ""
        self._gpu = bool(getattr(request, "gpu", False))
        self._monitoring = bool(getattr(request, "monitoring", False))

    @property
    def cluster(self) -> str:
        return self._cluster

    @property
    def path(self) -> str:
        return self._path

    def plan(self) -> list[PlanStep]:
        server, server_title, agents, agents_title = _SERVER.get(self._path, _K3S)
        return [
            PlanStep("preflight", "Preflight checks", "demo: no host is contacted", self._hosts),
            PlanStep("prerequisites", "Prerequisites", NOTHING, self._hosts),
            PlanStep(server, server_title, NOTHING, self._hosts[:1]),
            PlanStep(agents, agents_title, NOTHING if self._agents else "no agents: skipped",
                     self._agents),
            PlanStep("gpu", "GPU enablement", NOTHING if self._gpu else "gpu: false: skipped"),
            PlanStep("kubeconfig", "Kubeconfig", "demo: no kubeconfig is merged"),
            PlanStep("nodes-ready", "Nodes Ready", "demo: no node is asked"),
            PlanStep("gpu-smoke", "GPU smoke check", "demo: no pod is run"),
            PlanStep("monitoring", "Monitoring", NOTHING if self._monitoring
                     else "monitoring: false: skipped"),
        ]

    def _skip_reason(self, step: PlanStep) -> str:
        if step.id.endswith(("-agents", "-join")) and not self._agents:
            return "no agents: a single-node cluster"
        if step.id in ("gpu", "gpu-smoke") and not self._gpu:
            return "gpu: false in the request"
        if step.id == "monitoring" and not self._monitoring:
            return "monitoring: false"
        return ""

    async def apply(self, *, resume: bool = True) -> AsyncIterator[StepEvent]:
        state = self._clusters.get(self._cluster)
        if state is None or state.phase == "destroyed" or not resume:
            state = self._clusters[self._cluster] = DemoState(
                self._path, self._hosts, self._cluster, list(self._specs),
                {"gpu": self._gpu, "monitoring": self._monitoring, "airgap": self._airgap})
        state.phase = "applying"
        steps = self.plan()
        for index, step in enumerate(steps):
            yield StepEvent(step.id, StepStatus.STARTED, step.title,
                            data={"index": index, "total": len(steps)})
            if step.id in state.completed:
                yield StepEvent(step.id, StepStatus.SKIPPED, "done in an earlier run")
                continue
            await self._sleep(self._delay)
            reason = self._skip_reason(step)
            if reason:
                yield StepEvent(step.id, StepStatus.SKIPPED, reason)
            else:
                yield StepEvent(step.id, StepStatus.OUTPUT, step.detail)
                yield StepEvent(step.id, StepStatus.OK, NOTHING)
            state.completed.append(step.id)
            state.updated = time.time()
        state.phase = "ready"

    async def destroy(self) -> AsyncIterator[StepEvent]:
        state = self._clusters.get(self._cluster)
        if state is None:
            raise ConfigError(f"demo: no cluster named {self._cluster!r} was provisioned "
                              "in this session")
        for index, (sid, title) in enumerate((("reset", "Uninstall"),
                                              ("kubeconfig", "Kubeconfig context removed"))):
            yield StepEvent(sid, StepStatus.STARTED, title, data={"index": index, "total": 2})
            await self._sleep(self._delay)
            yield StepEvent(sid, StepStatus.OK, "demo: nothing was installed, nothing removed")
        state.phase, state.completed, state.updated = "destroyed", [], time.time()

    async def status(self) -> ClusterStatus:
        state = self._clusters.get(self._cluster)
        plan = [step.id for step in self.plan()]
        if state is None:
            return ClusterStatus(self._cluster, self._path, "planned", next_step=plan[0],
                                 hosts=self._hosts)
        left = next((sid for sid in plan if sid not in state.completed), None)
        return ClusterStatus(self._cluster, state.path, state.phase, tuple(state.completed),
                             left, None, "", state.labels, state.updated)

    async def kubeconfig(self) -> str:
        raise ConfigError("demo: no cluster is made, so there is no kubeconfig")
