"""The backend fixture of tests/backends, for the live describe test."""

from tests.backends.conftest import make_backend  # noqa: F401 - a fixture, used by name
