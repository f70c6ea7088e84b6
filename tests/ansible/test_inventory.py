"""inventory.build: groups, SSH options, a jump host, the local connection."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from mlops_tui.backends.ansible.inventory import build
from mlops_tui.backends.errors import ConfigError
from tests.ansible.conftest import Host

KNOWN = Path("/tmp/kh/known_hosts")


def test_groups_and_connection_variables() -> None:
    hosts = [Host("cp", "10.0.0.5", 2222, "ubuntu", ("/k/id_ed25519", "/k/id_rsa")),
             Host("w1", "10.0.0.6", 22, "ubuntu", (), roles=("agent",)),
             Host("both", "10.0.0.7", 22, "root", (), roles=("server", "agent"))]
    inventory = build(hosts, known_hosts=KNOWN)
    groups = inventory["all"]["children"]
    assert set(groups["server"]["hosts"]) == {"cp", "both"}  # a server is never an agent too
    assert set(groups["agent"]["hosts"]) == {"w1"}
    cp = groups["server"]["hosts"]["cp"]
    assert (cp["ansible_host"], cp["ansible_port"], cp["ansible_user"]) == ("10.0.0.5", 2222,
                                                                           "ubuntu")
    assert cp["ansible_ssh_private_key_file"] == "/k/id_ed25519"
    args = shlex.split(cp["ansible_ssh_common_args"])
    assert f"UserKnownHostsFile={KNOWN}" in args and "StrictHostKeyChecking=yes" in args
    assert "IdentityFile=/k/id_rsa" in args
    assert "ansible_ssh_private_key_file" not in groups["agent"]["hosts"]["w1"]


def test_roles_by_label_win_over_the_hosts_own() -> None:
    hosts = [Host("a", "10.0.0.5", 22, "u"), Host("b", "10.0.0.6", 22, "u")]
    inventory = build(hosts, known_hosts=KNOWN, roles={"b": ["agent"]})
    assert list(inventory["all"]["children"]["agent"]["hosts"]) == ["b"]


def test_a_jump_host_goes_through_a_proxy_command_with_our_known_hosts() -> None:
    jump = Host("bastion", "203.0.113.9", 2200, "jumper")
    host = Host("cp", "10.0.0.5", 22, "ubuntu", ("/k/id",), jump=jump)
    args = shlex.split(build([host], known_hosts=KNOWN)["all"]["children"]["server"]["hosts"]
                       ["cp"]["ansible_ssh_common_args"])
    proxy = next(a for a in args if a.startswith("ProxyCommand="))
    command = shlex.split(proxy.removeprefix("ProxyCommand="))
    # the jump's host key is checked against the same file, strictly, without a prompt
    assert command[:1] == ["ssh"] and f"UserKnownHostsFile={KNOWN}" in command
    assert "StrictHostKeyChecking=yes" in command and "BatchMode=yes" in command
    assert ["-p", "2200"] == command[command.index("-p"):command.index("-p") + 2]
    assert ["-i", "/k/id"] == command[command.index("-i"):command.index("-i") + 2]
    assert command[-5:] == ["-l", "jumper", "-W", "%h:%p", "203.0.113.9"]


def test_local() -> None:
    inventory = build([], known_hosts=KNOWN, local=True)
    localhost = inventory["all"]["children"]["server"]["hosts"]["localhost"]
    assert localhost == {"ansible_connection": "local", "ansible_python_interpreter":
                         sys.executable}


def test_refusals() -> None:
    with pytest.raises(ConfigError, match="at least one host"):
        build([], known_hosts=KNOWN)
    twice = [Host("a", "10.0.0.5", 22, "u"), Host("a", "10.0.0.6", 22, "u")]
    with pytest.raises(ConfigError, match="listed twice"):
        build(twice, known_hosts=KNOWN)


def test_no_secret_material_only_paths(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    inventory = build([Host("a", "10.0.0.5", 22, "u", (str(key),))], known_hosts=KNOWN)
    assert "PRIVATE KEY" not in repr(inventory)
