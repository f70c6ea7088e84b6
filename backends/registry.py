"""Find backends through the ``mlops_tui.backends`` entry-point group.

Listing names imports nothing; only the backend asked for is imported. An entry point names
a factory ``create_backend(settings: BackendSettings) -> ClusterBackend``.

The backends bundled with mlops-tui (subpackages of ``mlops_tui.backends`` with a
``create_backend``, registered as entry points too) are created by name without reading
installed-package metadata: ``importlib.metadata`` costs ~20 ms of imports, a tenth of the
time to the first frame. Any other name goes through the entry points.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import BackendSettings, MetricsSettings
from mlops_tui.backends.protocols import ClusterBackend, MetricsSource

GROUP = "mlops_tui.backends"
METRICS_GROUP = "mlops_tui.metrics"
BUNDLED = "mlops_tui.backends"

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


def _entry_points(group: str = GROUP) -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def _bundled(name: str) -> Any:
    """The factory of a bundled backend ``name``, or None when there is none by that name."""
    if not name.isidentifier() or name.startswith("_"):
        return None
    try:
        module = importlib.import_module(f"{BUNDLED}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{BUNDLED}.{name}":  # the backend exists but its imports failed
            raise ConfigError(f"backend {name!r} is installed but failed to import: "
                              f"{exc}") from exc
        return None
    return getattr(module, "create_backend", None)


def available(group: str = GROUP) -> list[str]:
    """Names of the installed backends (or metrics sources), sorted; nothing is imported."""
    return sorted(_entry_points(group))


def load(name: str, group: str = GROUP) -> Any:
    """Import and return the factory of backend ``name`` in entry-point ``group``.

    Raises:
        ConfigError: no backend of that name is installed (the message lists those that are),
            or its module failed to import.
    """
    eps = _entry_points(group)
    if name not in eps:
        installed = ", ".join(sorted(eps)) or "none"
        what = "metrics source" if group == METRICS_GROUP else "backend"
        raise ConfigError(f"unknown {what} {name!r}; installed {what}s: {installed}")
    try:
        return eps[name].load()
    except ImportError as exc:
        raise ConfigError(f"backend {name!r} is installed but failed to import: {exc}") from exc


def create(name: str, settings: BackendSettings) -> ClusterBackend:
    """Build backend ``name`` with ``settings`` (a bundled one without reading metadata)."""
    return (_bundled(name) or load(name))(settings)


def metrics_source_for(backend: ClusterBackend) -> str:
    """The metrics source that goes with ``backend``: one of the same name where there is
    one (the demo's simulated panels), else Prometheus."""
    return backend.name if backend.name in available(METRICS_GROUP) else "prometheus"


async def create_metrics(name: str, settings: MetricsSettings,
                         cluster: ClusterBackend | None) -> MetricsSource:
    """Build metrics source ``name``; it may use ``cluster`` (e.g. its service proxy).

    Factories are ``async def create_source(settings, cluster) -> MetricsSource``.

    Raises:
        ConfigError: unknown name, or the source cannot be configured (no URL and no
            Prometheus found in the cluster).
    """
    return await load(name, METRICS_GROUP)(settings, cluster)
