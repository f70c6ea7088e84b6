"""The facts script and its parser, on recorded outputs (tests/ssh/fixtures/*.facts).

``debian12-cgroup1-nogpu`` is the script's real output on this test machine (cgroup v1,
no GPU, ss present); ``debian12-no-ss`` is the same with this machine's real
/proc/net/{tcp,udp}{,6} in place of ss. The others are hand-made from the formats the
tools print: Ubuntu with 2 GPUs and swap on, RHEL with a broken NVIDIA driver and a small
/var, an arm64 host with MIG devices and busybox's ``date``, and a truncated output.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_tui.backends.ssh.facts import FACTS_SCRIPT, parse_facts
from mlops_tui.backends.ssh.facts_parse import parse_listeners

FIXTURES = Path(__file__).parent / "fixtures"
GiB = 1024**3


def load(name: str):
    return parse_facts((FIXTURES / f"{name}.facts").read_text())


def test_real_debian_host() -> None:
    facts = load("debian12-cgroup1-nogpu")
    assert (facts.os_id, facts.os_version, facts.hostname) == ("debian", "12", "vm")
    assert (facts.arch, facts.machine, facts.cgroup_version) == ("amd64", "x86_64", 1)
    assert facts.cpus == 2 and facts.memory_bytes == 24683584 * 1024
    assert facts.disk_free == {"/": 76089100 * 1024, "/var": 76089100 * 1024}
    assert facts.swap_bytes == 0 and facts.gpus == () and facts.gpu_error == ""
    assert facts.runtimes == {"containerd": "/usr/bin/containerd",
                              "docker": "/usr/local/bin/docker"}
    assert ("0.0.0.0", 2024) in facts.tcp_listeners
    assert ("::ffff:127.0.0.1", 44599) in facts.tcp_listeners
    assert facts.sudo == "root" and facts.remote_time == pytest.approx(1796219950.918466)
    assert facts.missing == ()


def test_proc_net_fallback_matches_ss() -> None:
    with_ss, without = load("debian12-cgroup1-nogpu"), load("debian12-no-ss")
    # recorded a few minutes apart on a busy machine: most listeners are the same
    ss_ports = {p for _, p in with_ss.tcp_listeners}
    proc_ports = {p for _, p in without.tcp_listeners}
    assert len(ss_ports & proc_ports) >= len(ss_ports) - 2
    assert ("0.0.0.0", 2024) in without.tcp_listeners
    assert ("10.250.0.1", 51783) in without.tcp_listeners
    # established connections in /proc/net/tcp are not listeners
    assert all(port != 0 for _, port in without.tcp_listeners)


def test_ubuntu_two_gpus_swap_and_busy_ports() -> None:
    facts = load("ubuntu2204-2gpus-swap")
    assert facts.hostname == "gpu-node-1"  # the login banner before it is ignored
    assert (facts.os_id, facts.os_id_like, facts.os_pretty) == (
        "ubuntu", ("debian",), "Ubuntu 22.04.4 LTS")
    assert facts.cgroup_version == 2 and facts.swap_bytes == 8388604 * 1024
    assert facts.disk_free["/var"] == 791125572 * 1024
    assert [g.index for g in facts.gpus] == [0, 1]
    assert facts.gpus[1].uuid == "GPU-9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789"
    assert facts.gpus[0].memory_mib == 81920 and facts.driver_version == "535.129.03"
    assert facts.ports_in_use(6443) == ["*"]
    assert facts.ports_in_use(53) == ["127.0.0.53"]
    assert facts.ports_in_use(8472, "udp") == ["0.0.0.0"]
    assert facts.ports_in_use(10250) == []
    assert facts.sudo == "password"


def test_rhel_with_a_broken_driver() -> None:
    facts = load("rhel9-nvidia-driver-failed")
    assert (facts.os_id, facts.os_id_like, facts.os_version) == ("rhel", ("fedora",), "9.4")
    assert facts.gpus == ()
    assert facts.gpu_error.startswith("nvidia-smi failed: NVIDIA-SMI has failed")
    assert set(facts.runtimes) == {"crio", "kubeadm", "kubelet"}
    assert facts.disk_free["/var"] < 10 * GiB
    assert facts.udp_listeners == ()


def test_arm64_mig_and_busybox_date() -> None:
    facts = load("arm64-mig-busybox")
    assert facts.arch == "arm64"
    assert len(facts.gpus) == 1 and facts.gpus[0].mig_devices == 2
    assert facts.gpus[0].memory_mib == 97871
    assert facts.remote_time == 1764590400.0  # "%N" printed literally: whole seconds
    assert facts.tcp_listeners == (("0.0.0.0", 22),)  # ss without -H: header skipped
    assert facts.sudo == "absent"


def test_truncated_output_names_what_is_missing() -> None:
    facts = load("truncated")
    assert facts.arch == "riscv64" and facts.cpus == 0
    assert {"nproc", "meminfo", "df", "cgroup", "sudo", "time"} <= set(facts.missing)
    assert parse_facts("").missing  # nothing at all: everything missing, no exception
    assert parse_facts("garbage\n\x00\n@@mlops-facts:@@\n").cpus == 0


def test_proc_addresses_decode() -> None:
    text = ("proc\n  sl  local_address rem_address   st\n"
            "   0: 0100007F:1F90 00000000:0000 0A\n"
            "   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A\n"
            "   2: 0100007F:1F91 0100007F:D431 01\n")
    assert parse_listeners(text) == (("127.0.0.1", 8080), ("::1", 22))
    assert parse_listeners(text, "udp") == (("127.0.0.1", 8080), ("127.0.0.1", 8081),
                                            ("::1", 22))


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="no shellcheck")
def test_script_is_posix_sh(tmp_path: Path) -> None:
    script = tmp_path / "facts.sh"
    script.write_text("#!/bin/sh\n" + FACTS_SCRIPT)
    result = subprocess.run(["shellcheck", "-s", "sh", "-e", "SC2016", str(script)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_script_runs_under_dash_and_parses(tmp_path: Path) -> None:
    dash = shutil.which("dash") or "/bin/sh"
    result = subprocess.run([dash, "-c", FACTS_SCRIPT], capture_output=True, text=True,
                            timeout=60)
    facts = parse_facts(result.stdout)
    assert facts.cpus >= 1 and facts.kernel and facts.missing == ()
