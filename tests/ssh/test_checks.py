"""Preflight verdicts on recorded facts (pure: no host)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mlops_tui.backends.ssh import checks
from mlops_tui.backends.ssh.facts import HostFacts, parse_facts

FIXTURES = Path(__file__).parent / "fixtures"
GiB = 1024**3


def load(name: str) -> HostFacts:
    return parse_facts((FIXTURES / f"{name}.facts").read_text())


def by_name(rows: list[checks.Check]) -> dict[str, checks.Check]:
    return {row.name: row for row in rows}


def test_every_warn_and_fail_says_what_to_do() -> None:
    for name in ("debian12-cgroup1-nogpu", "ubuntu2204-2gpus-swap",
                 "rhel9-nvidia-driver-failed", "arm64-mig-busybox", "truncated"):
        facts = load(name)
        for path in ("k3s-ssh", "kubeadm-ssh"):
            rows = [*checks.system(facts), *checks.resources(facts, "server"),
                    checks.runtime(facts, path), checks.gpus(facts, requested=True),
                    checks.ports(facts, checks.ports_for(path, "server")),
                    checks.clock(None, 0.0)]
            for row in rows:
                assert row.status in ("ok", "warn", "fail")
                assert (row.status == "ok") == (row.fix == ""), (name, row)


def test_ubuntu_gpu_host() -> None:
    facts = load("ubuntu2204-2gpus-swap")
    system = by_name(checks.system(facts))
    assert system["swap"].status == "warn" and "will be turned off" in system["swap"].value
    assert "sudo swapoff -a" in system["swap"].fix and "the plan does this" in system["swap"].fix
    assert system["cgroup"].status == "ok" and system["arch"].value == "amd64 (x86_64)"
    gpu = checks.gpus(facts, requested=True)
    assert (gpu.status, gpu.value) == ("ok", "2 × NVIDIA A100-SXM4-80GB, driver 535.129.03")
    k3s = checks.ports(facts, checks.ports_for("k3s-ssh", "server"))
    assert k3s.status == "fail"
    assert k3s.value == "in use: 6443/tcp (*); 8472/udp (0.0.0.0)"
    assert "6443" in k3s.fix
    agent = checks.ports(facts, checks.ports_for("kubeadm-ssh", "agent"))
    assert agent.status == "ok" and agent.value == "free: 10250/tcp"


def test_rhel_small_var_broken_driver_and_clashing_runtime() -> None:
    facts = load("rhel9-nvidia-driver-failed")
    resources = by_name(checks.resources(facts, "server"))
    assert resources["disk"].status == "fail" and "10.0 GiB" in resources["disk"].fix
    assert checks.gpus(facts, requested=False).status == "warn"  # a broken driver always
    assert checks.runtime(facts, "k3s-ssh").status == "warn"  # kubeadm is there
    assert checks.runtime(facts, "kubeadm-ssh").status == "ok"
    kubeadm = checks.ports(facts, checks.ports_for("kubeadm-ssh", "server"))
    assert kubeadm.status == "fail" and "2379/tcp (127.0.0.1)" in kubeadm.value


def test_arm64_mig_host_with_k3s_installed() -> None:
    facts = load("arm64-mig-busybox")
    assert by_name(checks.system(facts))["arch"].status == "ok"
    assert "2 MIG devices" in checks.gpus(facts, requested=True).value
    assert checks.runtime(facts, "kubeadm-ssh").status == "warn"


def test_no_gpu_is_fine_unless_asked_for() -> None:
    facts = load("debian12-cgroup1-nogpu")
    assert checks.gpus(facts, requested=False) == checks.Check("gpu", "ok", "none")
    asked = checks.gpus(facts, requested=True)
    assert asked.status == "warn" and "joins without GPUs" in asked.fix
    assert by_name(checks.system(facts))["cgroup"].status == "warn"


def test_minimums_per_role() -> None:
    small = HostFacts(cpus=1, memory_bytes=int(1.5 * GiB), disk_free={"/var": 50 * GiB},
                      machine="x86_64")
    server = by_name(checks.resources(small, "server"))
    agent = by_name(checks.resources(small, "agent"))
    assert server["cpu"].status == "fail" and "agent role" in server["cpu"].fix
    assert server["memory"].status == "fail"
    assert agent["cpu"].status == "ok" and agent["memory"].status == "ok"
    # MemTotal of a "2 GiB" machine is a little under 2 GiB: still a server
    nearly = replace(small, cpus=2, memory_bytes=int(1.9 * GiB))
    assert by_name(checks.resources(nearly, "server"))["memory"].status == "ok"


def test_odd_architecture_and_unknowns() -> None:
    facts = load("truncated")
    system = by_name(checks.system(facts))
    assert system["arch"].status == "fail" and "amd64 and arm64" in system["arch"].fix
    resources = by_name(checks.resources(facts, "agent"))
    assert resources["cpu"].value == "unknown" and resources["disk"].value == "unknown"


@pytest.mark.parametrize(("skew", "rtt", "status"), [
    (0.3, 0.1, "ok"),
    (-1.5, 0.1, "warn"),
    (1.5, 1.2, "ok"),  # within the round trip's uncertainty: not provably skewed
    (6.0, 0.2, "fail"),
    (-7.0, 0.2, "fail"),
    (5.4, 1.0, "warn"),
])
def test_clock_skew_with_the_round_trip_subtracted(skew: float, rtt: float,
                                                   status: str) -> None:
    row = checks.clock(skew, rtt)
    assert row.status == status
    assert row.value.startswith(f"{skew:+.2f} s")
