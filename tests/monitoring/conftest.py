"""The backend tests' fixtures the monitoring tests share (a KubernetesBackend on the real
apiserver)."""

from tests.backends.conftest import make_backend

__all__ = ["make_backend"]
