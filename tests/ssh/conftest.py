"""The SSH tests' fixtures: the real sshd hosts of :mod:`tests.servers.sshd_fixtures`."""

