"""The SSH tests' fixtures: the real sshd hosts of :mod:`tests.servers.sshd_fixtures`
(imported here so this directory works before they are registered project-wide)."""

from tests.servers.sshd_fixtures import netns_sshd_host, sshd_host, sudo_user  # noqa: F401
