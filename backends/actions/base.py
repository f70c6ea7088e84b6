"""The shape every action has: a typed request in, an async stream of events out.

An action is an :class:`ActionSpec` row: its name (the script step key), its request model
(pydantic: the script schema and the TUI's call are the same object), whether it changes the
cluster, and ``run``. :func:`execute` wraps ``run`` so that every stream starts with
``started`` and ends with exactly one ``ok`` or ``failed``, whatever ``run`` raised.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from mlops_tui.backends import names
from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.events import ActionEvent, Failure
from mlops_tui.backends.errors import (
    ENVIRONMENT_ERRORS,
    BackendError,
    ConfigError,
    ReadOnlyError,
)
from mlops_tui.backends.models import KindInfo, ResourceRef
from mlops_tui.backends.protocols import ClusterBackend, MetricsSource
from mlops_tui.backends.provisioning.contract import HostKeyDecision

MAX_DURATION_S = 7 * 24 * 3600.0
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION_HINT = "must be a duration like 90s or 5m"


def parse_duration(value: object) -> float:
    """Seconds from ``90s``, ``5m``, ``1h30m``, ``250ms`` or a plain number of seconds.

    Raises:
        ValueError: anything else, or a value outside (0, 7 days].
    """
    if isinstance(value, bool):
        raise ValueError(DURATION_HINT)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(value.strip()))
    else:
        raise ValueError(DURATION_HINT)
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_DURATION_S:
        raise ValueError(f"{DURATION_HINT}, more than 0 and at most 7d")
    return seconds


def _namespace(value: object) -> object:
    if isinstance(value, str):
        problem = names.label_problem(value)
        if problem:
            raise ValueError(f"invalid namespace: {problem}")
    return value


def _name(value: object) -> object:
    if isinstance(value, str):
        try:
            names.check_name(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Namespace = Annotated[str, BeforeValidator(_namespace)]
Name = Annotated[str, BeforeValidator(_name)]


class Request(BaseModel):
    """Base of every request: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectRequest(Request):
    """Names one object: a kind (any ``:`` alias), a name, a namespace (default: the
    session's)."""

    kind: str
    name: Name
    namespace: Namespace | None = None


class CheckFailed(BackendError):
    """A condition an action checks did not hold (exit 1 in a script)."""

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


@dataclass
class ActionContext:
    """What actions run against. The TUI and the script runner each make one."""

    backend: ClusterBackend
    namespace: str = ""  # the session's namespace: the default of every request
    metrics: Callable[[], Awaitable[MetricsSource]] | None = None
    field_manager: str = "mlops-tui"
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # where relative paths in requests point from: a script's folder (as Ansible resolves
    # paths against the playbook), so a script runs the same from any working directory
    workdir: Path | None = None
    # asks the user for a secret (the sudo password of a host): the TUI prompts, the script
    # runner reads the environment; None (or None returned): no secret can be had
    ask_secret: Callable[[str], Awaitable[str | None]] | None = None
    # decides on an unknown SSH host key: the TUI shows the fingerprint; a script has none,
    # so unknown keys are refused unless the request says accept_new_host_keys
    ask_host_key: HostKeyDecision | None = None
    # where provisioned clusters keep their state (None: the XDG state dir; tests: tmp)
    state_root: Path | None = None

    def path(self, text: str) -> str:
        """A path a request names, made absolute against :attr:`workdir` when relative."""
        if self.workdir is None or text.startswith("~") or Path(text).is_absolute():
            return text
        return str(self.workdir / text)

    def kind(self, alias: str) -> KindInfo:
        """The kind a user means by ``alias`` (anything ``:`` accepts).

        Raises:
            ConfigError: the cluster serves no such kind.
        """
        info = self.backend.resolve_kind(alias)
        if info is None:
            raise ConfigError(f"unknown kind {alias!r}")
        return info

    def ref(self, request: ObjectRequest) -> ResourceRef:
        kind = self.kind(request.kind)
        namespace = request.namespace if request.namespace is not None else self.namespace
        if kind.namespaced and not namespace:
            namespace = "default"
        return ResourceRef(kind, request.name, namespace if kind.namespaced else "")

    def check_writable(self, what: str) -> None:
        """Refuse ``what`` (a change: "deploy of resnet") in a read-only session.

        Raises:
            ReadOnlyError: "read-only mode: WHAT refused".
        """
        if getattr(self.backend, "readonly", False):
            raise ReadOnlyError(f"read-only mode: {what} refused")

    def capability(self, protocol: type, what: str) -> Any:
        """The backend as ``protocol``, or a clear error when it lacks that capability."""
        if not isinstance(self.backend, protocol):
            raise ConfigError(f"the {self.backend.name} backend cannot {what}")
        return self.backend


Run = Callable[[ActionContext, Any], AsyncIterator[ActionEvent]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One row of the action table."""

    name: str
    request: type[Request]
    run: Run
    summary: str
    mutating: bool = False
    # False: the action works without a connected cluster (preflight, provision, destroy):
    # the script runner connects only when some step needs one
    needs_cluster: bool = True


def failure_of(exc: BackendError) -> Failure:
    """Environment (exit 2) for what no retry of the same script fixes; a check otherwise."""
    return Failure.ENVIRONMENT if isinstance(exc, ENVIRONMENT_ERRORS) else Failure.CHECK


async def execute(spec: ActionSpec, ctx: ActionContext, request: Request
                  ) -> AsyncIterator[ActionEvent]:
    """Run one action: ``started``, what it streams, then exactly one terminal event.

    Backend errors become ``failed`` events; cancellation propagates (the caller records
    it). ``run`` may yield its own terminal event; anything it yields after that is dropped.
    """
    yield events.started(spec.summary)
    try:
        async for event in spec.run(ctx, request):
            yield event
            if event.terminal:
                return
    except CheckFailed as exc:
        yield events.failed(str(exc), Failure.CHECK, exc.data)
        return
    except BackendError as exc:
        yield events.failed(str(exc), failure_of(exc))
        return
    yield events.ok()
