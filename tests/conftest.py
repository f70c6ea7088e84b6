pytest_plugins = ["tests.cluster.fixtures", "tests.servers.fixtures"]
