pytest_plugins = ["tests.cluster.fixtures", "tests.servers.fixtures", "tests.servers.sshd_fixtures"]
