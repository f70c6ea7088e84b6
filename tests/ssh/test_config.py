"""Resolving hosts through an ssh config file (paramiko's SSHConfig), no server needed."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import pytest

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh.config import resolve

CONFIG = """\
Host gpu1
    HostName 10.0.0.5
    User ubuntu
    Port 2222
    IdentityFile ~/.ssh/lab_ed25519
    ProxyJump bastion

Host bastion
    HostName 192.0.2.10
    User jump
    IdentityFile ~/.ssh/bastion_key

Host chain
    ProxyJump bastion,other

Host loop
    ProxyJump hop2

Host hop2
    ProxyJump bastion

Host badport
    Port notaport
"""


@pytest.fixture
def ssh_config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return path


def test_config_fills_what_the_spec_leaves_out(ssh_config: Path) -> None:
    host = resolve(HostSpec(address="gpu1"), ssh_config)
    home = os.path.expanduser("~")
    assert (host.hostname, host.port, host.user) == ("10.0.0.5", 2222, "ubuntu")
    assert host.key_files == (f"{home}/.ssh/lab_ed25519",)
    assert host.known_hosts_name == "[10.0.0.5]:2222"
    assert host.label == "gpu1"
    jump = host.jump
    assert jump is not None
    assert (jump.hostname, jump.port, jump.user) == ("192.0.2.10", 22, "jump")
    assert jump.key_files == (f"{home}/.ssh/bastion_key",)
    assert jump.known_hosts_name == "192.0.2.10"


def test_spec_fields_win_over_the_config(ssh_config: Path) -> None:
    host = resolve(HostSpec(address="gpu1", port=22, user="admin", key="~/k",
                            jump="me@198.51.100.7:2200", name="node-a"), ssh_config)
    assert (host.port, host.user) == (22, "admin")
    assert host.key_files == (os.path.expanduser("~/k"),)
    assert host.known_hosts_name == "10.0.0.5"
    assert host.label == "node-a"
    assert host.jump is not None
    assert (host.jump.hostname, host.jump.port, host.jump.user) == ("198.51.100.7", 2200, "me")
    # a jump without an IdentityFile of its own tries the key the spec names
    assert host.jump.key_files == (os.path.expanduser("~/k"),)


def test_missing_config_gives_ssh_defaults(tmp_path: Path) -> None:
    host = resolve(HostSpec(address="10.1.2.3"), tmp_path / "nope")
    assert (host.hostname, host.port, host.user) == ("10.1.2.3", 22, getpass.getuser())
    assert host.key_files == () and host.jump is None


@pytest.mark.parametrize("alias", ["chain", "loop"])
def test_more_than_one_jump_is_refused(ssh_config: Path, alias: str) -> None:
    with pytest.raises(ConfigError, match="only one jump host"):
        resolve(HostSpec(address=alias), ssh_config)


def test_bad_port_in_config_is_a_config_error(ssh_config: Path) -> None:
    with pytest.raises(ConfigError, match="notaport"):
        resolve(HostSpec(address="badport"), ssh_config)


def test_unparseable_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host x\n    HostName\n")
    with pytest.raises(ConfigError, match=str(path)):
        resolve(HostSpec(address="x"), path)


def test_bracketed_ipv6_jump(tmp_path: Path) -> None:
    host = resolve(HostSpec(address="10.0.0.9", jump="root@[fd00::1]:2022"), tmp_path / "no")
    assert host.jump is not None
    assert (host.jump.hostname, host.jump.port) == ("fd00::1", 2022)
    assert host.jump.known_hosts_name == "[fd00::1]:2022"
