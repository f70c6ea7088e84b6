"""Helpers for backend tests against the real control plane."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.models import BackendSettings


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``predicate`` until it is truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last failure
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {last!r}")


@pytest.fixture
def make_backend(control_plane) -> Iterator[Callable[..., KubernetesBackend]]:
    """Connect KubernetesBackends to the real apiserver; every one is closed afterwards."""
    made: list[KubernetesBackend] = []

    def make(**settings) -> KubernetesBackend:
        settings.setdefault("kubeconfig", str(control_plane.admin_kubeconfig))
        backend = KubernetesBackend(BackendSettings(**settings))
        asyncio.run(backend.connect())
        made.append(backend)
        return backend

    yield make
    for backend in made:
        asyncio.run(backend.close())
