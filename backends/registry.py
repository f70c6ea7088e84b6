"""Find backends through the ``mlops_tui.backends`` entry-point group.

Listing names imports nothing; only the backend asked for is imported. An entry point names
a factory ``create_backend(settings: BackendSettings) -> ClusterBackend``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from backends.errors import ConfigError
from backends.models import BackendSettings
from backends.protocols import ClusterBackend

GROUP = "mlops_tui.backends"

BackendFactory = Callable[[BackendSettings], ClusterBackend]


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of the installed backends, sorted; nothing is imported."""
    return sorted(_entry_points())


def load(name: str) -> BackendFactory:
    """Import and return the factory of backend ``name``.

    Raises:
        ConfigError: no backend of that name is installed (the message lists those that are),
            or its module failed to import.
    """
    eps = _entry_points()
    if name not in eps:
        installed = ", ".join(sorted(eps)) or "none"
        raise ConfigError(f"unknown backend {name!r}; installed backends: {installed}")
    try:
        return eps[name].load()
    except ImportError as exc:
        raise ConfigError(f"backend {name!r} is installed but failed to import: {exc}") from exc


def create(name: str, settings: BackendSettings) -> ClusterBackend:
    """Build backend ``name`` with ``settings``."""
    return load(name)(settings)
