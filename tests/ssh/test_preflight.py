"""Preflight on real hosts: the loopback sshd and one in a network namespace (its own
address, its own ports), both checked concurrently."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.contract import HostKeyOffer
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.ssh.preflight import HostReport, run_preflight
from tests.cluster.controlplane import free_port
from tests.servers.sshd import SshdHost


def spec(host: SshdHost, **over) -> HostSpec:
    fields = {"address": host.address, "port": host.port, "user": host.user,
              "key": str(host.client_key)}
    return HostSpec(**(fields | over))


def both_known(tmp_path: Path, *hosts: SshdHost) -> Path:
    known = tmp_path / "known_hosts"
    known.write_text("".join(h.host_key_line + "\n" for h in hosts))
    return known


async def collect(*args, **kwargs) -> dict[str, HostReport]:
    return {report.host: report async for report in run_preflight(*args, **kwargs)}


def rows(report: HostReport) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.value) for c in report.checks}


async def test_two_real_hosts(sshd_host: SshdHost, netns_sshd_host: SshdHost,
                              tmp_path: Path) -> None:
    hosts = [spec(sshd_host, name="loop"), spec(netns_sshd_host, name="ns", roles=["agent"])]
    reports = await collect(hosts, path="kubeadm-ssh",
                            known_hosts=both_known(tmp_path, sshd_host, netns_sshd_host))
    assert set(reports) == {"loop", "ns"}
    for report in reports.values():
        assert report.environment_error == ""
        assert report.facts is not None and report.facts.missing == ()
        assert report.facts.sudo == "root"
        table = rows(report)
        assert [c.name for c in report.checks] == [
            "reachable", "sudo", "os", "kernel", "arch", "swap", "cgroup", "cpu", "memory",
            "disk", "runtime", "gpu", "ports", "clock"]
        assert table["sudo"] == ("ok", "root: no sudo needed")
        assert table["clock"][0] == "ok"  # the same clock: within the round trip
        assert table["gpu"] == ("ok", "none")
    assert reports["ns"].facts.hostname == "mlops-ssh-ns"
    assert netns_sshd_host.host_key_fingerprint in rows(reports["ns"])["reachable"][1]
    assert rows(reports["ns"])["ports"] == ("ok", "free: 10250/tcp")  # an agent's ports
    assert reports["ns"].as_dict()["checks"][0]["name"] == "reachable"


async def test_busy_ports_are_reported(sshd_host: SshdHost, netns_sshd_host: SshdHost,
                                       tmp_path: Path) -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        udp.bind(("127.0.0.1", 0))
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
        idle = free_port()
        wanted = [(tcp_port, "tcp"), (udp_port, "udp"), (idle, "tcp")]
        reports = await collect(
            [spec(sshd_host, name="loop"), spec(netns_sshd_host, name="ns")], path="k3s-ssh",
            known_hosts=both_known(tmp_path, sshd_host, netns_sshd_host), ports=wanted)
    finally:
        tcp.close()
        udp.close()
    status, value = rows(reports["loop"])["ports"]
    assert status == "fail"
    assert value == f"in use: {tcp_port}/tcp (127.0.0.1); {udp_port}/udp (127.0.0.1)"
    assert reports["loop"].failed
    # the namespace has its own ports: the same numbers are free there
    assert rows(reports["ns"])["ports"][0] == "ok"


async def test_environment_errors(sshd_host: SshdHost, tmp_path: Path) -> None:
    closed = free_port()
    hosts = [spec(sshd_host, name="unknown-key"),
             HostSpec(address="127.0.0.1", port=closed, user="root", name="down")]
    reports = await collect(hosts, path="k3s-ssh", known_hosts=tmp_path / "empty",
                            timeout=3)
    down, unknown = reports["down"], reports["unknown-key"]
    assert down.environment_error == f"down: ssh root@127.0.0.1:{closed}: Connection refused"
    assert [(c.name, c.status) for c in down.checks] == [("reachable", "fail")]
    assert unknown.environment_error.startswith(f"unknown-key: host key of "
                                                f"[127.0.0.1]:{sshd_host.port} is not known")
    assert unknown.host_key_offer is not None
    assert unknown.host_key_offer.fingerprint == sshd_host.host_key_fingerprint
    assert [c.name for c in unknown.checks] == ["host key"]
    assert not (tmp_path / "empty").exists()


async def test_host_key_questions_come_one_at_a_time(
        sshd_host: SshdHost, netns_sshd_host: SshdHost, tmp_path: Path) -> None:
    open_questions, most = 0, 0
    asked: list[str] = []

    async def decide(offer: HostKeyOffer) -> bool:
        nonlocal open_questions, most
        open_questions += 1
        most = max(most, open_questions)
        asked.append(offer.host)
        await asyncio.sleep(0.3)
        open_questions -= 1
        return True

    known = tmp_path / "known_hosts"
    reports = await collect([spec(sshd_host, name="a"), spec(netns_sshd_host, name="b")],
                            path="k3s-ssh", known_hosts=known, decide=decide, ports=[])
    assert most == 1
    assert sorted(asked) == sorted([sshd_host.known_hosts_name,
                                    netns_sshd_host.known_hosts_name])
    assert all(r.environment_error == "" for r in reports.values())
    assert sorted(known.read_text().splitlines()) == sorted(
        [sshd_host.host_key_line, netns_sshd_host.host_key_line])


async def test_unknown_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown provisioning path 'k8s'"):
        await collect([], path="k8s", known_hosts=tmp_path / "kh")
