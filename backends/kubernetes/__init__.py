"""The Kubernetes backend (official ``kubernetes`` client, raw JSON watch caches)."""

from mlops_tui.backends.kubernetes.backend import KubernetesBackend
from mlops_tui.backends.models import BackendSettings


def create_backend(settings: BackendSettings) -> KubernetesBackend:
    return KubernetesBackend(settings)


__all__ = ["KubernetesBackend", "create_backend"]
