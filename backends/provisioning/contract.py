"""The provisioner contract: a plan first, then a resumable stream of step events.

A provisioner is a list of named steps (:class:`PlanStep`). ``plan()`` lists them with no
side effect; ``apply()`` runs them in order and streams :class:`StepEvent` s, recording
each completed step in the cluster's state so a later ``apply(resume=True)`` starts at the
first step not done (after a failure, Ctrl-C or a killed process); ``destroy()`` undoes
what apply did, in reverse; ``status()`` reads the state and, where it can, the hosts;
``kubeconfig()`` returns the new cluster's kubeconfig text, which the caller merges into
``~/.kube/config`` (:mod:`mlops_tui.backends.provisioning.kubeconfig`).

Every event names its step; a step's stream ends with exactly one of ``ok``, ``changed``,
``failed`` or ``skipped`` (the engine guarantees it, as ``execute`` does for actions).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

#: the provisioning paths a user can choose (``provision: {path: ...}``)
PATHS = ("k3s-local", "k3s-ssh", "kubeadm-ssh")


class StepStatus(StrEnum):
    STARTED = "started"
    OUTPUT = "output"  # one line of output (an Ansible task result, a command's line)
    PROGRESS = "progress"  # ``fraction`` in [0, 1] of this step, where known
    WARNING = "warning"
    OK = "ok"  # terminal: done, nothing changed
    CHANGED = "changed"  # terminal: done, something changed (``data``: counts)
    FAILED = "failed"  # terminal: ``message`` says why and what to do
    SKIPPED = "skipped"  # terminal: ``message`` says why (done before, not needed, no GPU)


TERMINAL_STATUSES = frozenset({StepStatus.OK, StepStatus.CHANGED, StepStatus.FAILED,
                               StepStatus.SKIPPED})


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step of a plan, as the plan view and ``plan_only`` show it."""

    id: str  # stable key recorded in the state ("preflight", "prerequisites", "k3s-server")
    title: str  # one line for the step list
    detail: str = ""  # what it will do: the playbook, the hosts, the flags
    hosts: tuple[str, ...] = ()  # the host names it touches (empty: this machine / the API)
    destroys: bool = False  # a destroy step (shown in red in the plan)


@dataclass(frozen=True, slots=True)
class StepEvent:
    step: str  # PlanStep.id
    status: StepStatus
    message: str = ""
    fraction: float | None = None
    host: str = ""  # the host a line or result is about, when it is about one
    data: Any = None  # terminal events: a JSON-able result (counts, a table)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What ``status()`` knows of a cluster."""

    cluster: str
    path: str
    phase: str  # "planned" | "applying" | "failed" | "ready" | "destroying" | "destroyed"
    completed: tuple[str, ...] = ()  # PlanStep ids done, in order
    next_step: str | None = None  # where a resume starts (None: nothing left)
    context: str | None = None  # the kubeconfig context it was merged as
    last_error: str = ""
    hosts: tuple[str, ...] = ()
    updated: float = 0.0  # unix time of the last state write
    details: dict[str, Any] = field(default_factory=dict)


#: one step's body: it gets the engine's StepContext and streams non-terminal events; it
#: returns normally (→ ok, or changed when it reported changes), or raises a BackendError
#: (→ failed with its message), or raises StepSkipped (→ skipped with the reason).
StepBody = Callable[["StepContext"], AsyncIterator[StepEvent]]


class StepSkipped(Exception):
    """Raised by a step body: the step does not apply here (the message says why)."""


@dataclass
class StepContext:
    """What a running step sees: its id, a way to say it changed something, and the
    cluster's scratch values (facts one step leaves for a later one: a join command, the
    server address). Scratch values are kept in the state only when ``persist`` is set, and
    never hold a secret."""

    step: str
    changed: int = 0
    scratch: dict[str, Any] = field(default_factory=dict)

    def event(self, status: StepStatus, message: str = "", *, fraction: float | None = None,
              host: str = "", data: Any = None) -> StepEvent:
        return StepEvent(self.step, status, message, fraction, host, data)

    def output(self, line: str, host: str = "") -> StepEvent:
        return self.event(StepStatus.OUTPUT, line, host=host)

    def progress(self, message: str, fraction: float | None = None) -> StepEvent:
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        return self.event(StepStatus.PROGRESS, message, fraction=fraction)


@dataclass(frozen=True, slots=True)
class Step:
    """A plan step with its body (what the engine runs)."""

    plan: PlanStep
    body: StepBody


@runtime_checkable
class Provisioner(Protocol):
    """A way to make a cluster (k3s on this machine, k3s or kubeadm over SSH, AWS)."""

    @property
    def cluster(self) -> str:
        """The cluster's name (a DNS-1123 label): its state dir and kubeconfig context."""
        ...

    @property
    def path(self) -> str:
        """One of :data:`PATHS` (or a plugin's own name)."""
        ...

    def plan(self) -> list[PlanStep]:
        """The apply steps in order. No side effect: nothing is connected or written."""
        ...

    def apply(self, *, resume: bool = True) -> AsyncIterator[StepEvent]:
        """Run the plan. With ``resume``, steps the state records as done are skipped
        (``skipped``: "done in an earlier run"); without it, every step runs again.

        Raises:
            ConfigError: another apply of this cluster holds the lock; the state was written
                by a newer mlops-tui.
        """
        ...

    def destroy(self) -> AsyncIterator[StepEvent]:
        """Undo apply (uninstall / reset on every host), then remove the kubeconfig context
        and mark the state destroyed."""
        ...

    async def status(self) -> ClusterStatus:
        """The state's view of the cluster (no host is contacted)."""
        ...

    async def kubeconfig(self) -> str:
        """The cluster's admin kubeconfig (YAML text), its server address reachable from
        this machine.

        Raises:
            ConfigError: the cluster has not been applied.
            ConnectionFailed: the host holding it cannot be reached.
        """
        ...


#: a host key decision: given what the server offered, accept (and record) it or not
HostKeyDecision = Callable[["HostKeyOffer"], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class HostKeyOffer:
    """An unknown host key, as the user is asked about it (never a changed one: those are
    refused outright)."""

    host: str  # as known_hosts names it: "10.0.0.5" or "[10.0.0.5]:2222"
    key_type: str  # "ssh-ed25519"
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
