"""The shipped playbooks run by the real runner over SSH to REAL sshd hosts, in CHECK mode:
the sshd hosts are this machine (one on loopback, one in a network namespace: the namespace
shares the filesystem), so anything that installs packages, loads modules or changes sysctls
must not happen for real here; check mode runs every task's logic without changing a file.

k3s itself cannot be obtained here (no k3s binary or images in any reachable registry): the
air-gap bundle is a stand-in the test makes, with a tiny shell script named ``k3s`` that
only prints a version. The bundle's layout is what is checked, and the install is exercised
in check mode only."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_tui.backends.ansible.events import PlaybookEvent
from mlops_tui.backends.ansible.inventory import build
from mlops_tui.backends.ansible.runner import run_playbook
from tests.ansible.conftest import HOST_PYTHON, host_of
from tests.provisioning.support import playbook_files


def _bundle(root: Path, *, complete: bool = True) -> Path:
    root.mkdir()
    # a stand-in for the k3s binary (none can be downloaded here): prints a version only
    (root / "k3s").write_text('#!/bin/sh\necho "k3s version v1.31.4+k3s1 (test stand-in)"\n')
    (root / "k3s").chmod(0o755)
    (root / "install.sh").write_text("#!/bin/sh\necho 'stand-in installer'\n")
    (root / "registries.yaml").write_text('mirrors:\n  "docker.io":\n    endpoint: ["http://10.0.0.1:5000"]\n')
    if complete:
        (root / "k3s-airgap-images-amd64.tar.zst").write_bytes(b"stand-in images")
    return root


async def _run(book: str, inventory: dict, workdir: Path, **vars) -> list[PlaybookEvent]:
    before = playbook_files()
    events = [e async for e in run_playbook(book, inventory=inventory, extravars=vars,
                                            workdir=workdir, check=True)]
    assert playbook_files() == before, "check mode changed a file on this machine"
    return events


def _inventory(*hosts, known_hosts: Path) -> dict:
    return build(list(hosts), known_hosts=known_hosts, python_interpreter=HOST_PYTHON)


async def test_prerequisites_in_check_mode(sshd_host, tmp_path: Path) -> None:
    events = await _run("prerequisites.yml",
                        _inventory(host_of(sshd_host), known_hosts=sshd_host.known_hosts),
                        tmp_path)
    result = events[-1].result
    assert result.ok, result.error
    tasks = {e.task for e in events if e.kind == "changed"}
    # what a fresh node would get
    assert {"Kernel modules loaded at boot",
            "Sysctl settings for bridged traffic and forwarding"} <= tasks


async def test_prerequisites_for_k3s_leave_containerd_alone(sshd_host, tmp_path: Path) -> None:
    events = await _run("prerequisites.yml",
                        _inventory(host_of(sshd_host), known_hosts=sshd_host.known_hosts),
                        tmp_path, install_containerd=False)
    assert events[-1].result.ok
    containerd = [e for e in events if "ontainerd" in e.task and e.kind != "task"]
    assert containerd and all(e.kind == "skipped" for e in containerd)


async def test_k3s_air_gapped_server_and_agent_in_check_mode(sshd_host, netns_sshd_host,
                                                             tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd_host.known_hosts.read_text() + netns_sshd_host.known_hosts.read_text())
    inventory = _inventory(host_of(sshd_host, label="server1"),
                           host_of(netns_sshd_host, label="agent1", roles=("agent",)),
                           known_hosts=known)
    events = await _run("k3s.yml", inventory, tmp_path / "w",
                        airgap_dir=str(_bundle(tmp_path / "bundle")))
    result = events[-1].result
    assert result.ok, result.error
    assert set(result.stats) == {"localhost", "server1", "agent1"}
    changed = {(e.host, e.task) for e in events if e.kind == "changed"}
    assert {("server1", "K3s binary from the bundle"), ("server1", "K3s server installed"),
            ("agent1", "K3s agent installed"),
            ("agent1", "Join token handed to this node (a root-only file; never a command line)"),
            ("server1", "Registry mirrors from the bundle")} <= changed
    images = [e for e in events if e.task.startswith("Images from the bundle")
              and e.kind == "output"]
    assert {e.host for e in images} == {"server1", "agent1"}


async def test_an_incomplete_bundle_is_refused_before_any_host(sshd_host,
                                                               tmp_path: Path) -> None:
    events = await _run("k3s.yml",
                        _inventory(host_of(sshd_host), known_hosts=sshd_host.known_hosts),
                        tmp_path / "w",
                        airgap_dir=str(_bundle(tmp_path / "bundle", complete=False)))
    result = events[-1].result
    assert not result.ok and result.failed_hosts == ("localhost",)
    assert "k3s-airgap-images-ARCH.tar" in result.error
    assert "h1" not in result.stats  # no host was touched


@pytest.mark.parametrize("book", ["gpu.yml", "reset.yml"])
async def test_gpu_and_reset_in_check_mode(book: str, sshd_host, tmp_path: Path) -> None:
    events = await _run(book, _inventory(host_of(sshd_host),
                                         known_hosts=sshd_host.known_hosts), tmp_path)
    result = events[-1].result
    assert result.ok, result.error
    if book == "gpu.yml":  # no GPU on this machine: nothing after the probe
        assert not any(e.task.startswith("Toolkit") for e in events if e.kind != "task")
