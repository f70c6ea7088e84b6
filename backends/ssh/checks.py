"""The preflight verdicts: pure functions from a host's facts to :class:`Check` rows.

Every ``warn`` and ``fail`` carries a ``fix``: what the user does about it (or that the plan
does it). Thresholds follow k3s's and kubeadm's own requirements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from mlops_tui.backends.ssh.facts import HostFacts

CheckStatus = Literal["ok", "warn", "fail"]
GiB = 1024**3

#: ports each role needs free, per path: (port, "tcp" | "udp")
PORTS: dict[str, dict[str, tuple[tuple[int, str], ...]]] = {
    "k3s": {"server": ((6443, "tcp"), (10250, "tcp"), (8472, "udp")),
            "agent": ((10250, "tcp"), (8472, "udp"))},
    "kubeadm": {"server": ((6443, "tcp"), (2379, "tcp"), (2380, "tcp"), (10250, "tcp"),
                           (10257, "tcp"), (10259, "tcp")),
                "agent": ((10250, "tcp"),)},
}
MIN_CPUS = {"server": 2, "agent": 1}
MIN_MEMORY = {"server": 2 * GiB, "agent": 1 * GiB}
MIN_VAR_FREE = 10 * GiB
# MemTotal is what the kernel manages, a little under the installed RAM (firmware and
# kernel reservations): a "2 GiB" machine reports ~1.9 GiB, so allow 10 % below
MEMORY_SLACK = 0.9
SKEW_FAIL_S, SKEW_WARN_S = 5.0, 1.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # "cpu", "memory", "ports" …
    status: CheckStatus
    value: str  # what was found, one line
    fix: str = ""  # what to do (warn / fail only)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def family(path: str) -> str:
    """``k3s`` or ``kubeadm``: which requirements a provisioning path has."""
    return "kubeadm" if path.startswith("kubeadm") else "k3s"


def ports_for(path: str, role: str) -> tuple[tuple[int, str], ...]:
    return PORTS[family(path)][role]


def _gib(value: int) -> str:
    return f"{value / GiB:.1f} GiB"


def _unknown(name: str, section: str) -> Check:
    return Check(name, "warn", "unknown",
                 f"the facts script could not read {section} on this host")


def resources(facts: HostFacts, role: str) -> list[Check]:
    """CPU, memory and free disk on /var against the role's minimums."""
    checks = []
    if not facts.cpus:
        checks.append(_unknown("cpu", "the CPU count (nproc)"))
    elif facts.cpus < MIN_CPUS[role]:
        checks.append(Check("cpu", "fail", f"{facts.cpus} CPU",
                            f"a {role} needs at least {MIN_CPUS[role]} CPUs: use a larger "
                            f"machine" + (" or give this host the agent role"
                                          if role == "server" else "")))
    else:
        checks.append(Check("cpu", "ok", f"{facts.cpus} CPUs"))
    if not facts.memory_bytes:
        checks.append(_unknown("memory", "/proc/meminfo"))
    elif facts.memory_bytes < MIN_MEMORY[role] * MEMORY_SLACK:
        checks.append(Check("memory", "fail", _gib(facts.memory_bytes),
                            f"a {role} needs at least {_gib(MIN_MEMORY[role])} of memory"))
    else:
        checks.append(Check("memory", "ok", _gib(facts.memory_bytes)))
    free = facts.disk_free.get("/var", facts.disk_free.get("/"))
    if free is None:
        checks.append(_unknown("disk", "the free space on /var (df)"))
    elif free < MIN_VAR_FREE:
        checks.append(Check("disk", "fail", f"{_gib(free)} free on /var",
                            f"images and etcd need at least {_gib(MIN_VAR_FREE)} free on "
                            f"/var: free space or grow the disk"))
    else:
        checks.append(Check("disk", "ok", f"{_gib(free)} free on /var"))
    return checks


def system(facts: HostFacts) -> list[Check]:
    """OS, kernel, architecture, swap and cgroup version."""
    checks = [
        Check("os", "ok", facts.os_pretty or facts.os_id) if facts.os_pretty or facts.os_id
        else _unknown("os", "/etc/os-release"),
        Check("kernel", "ok", facts.kernel) if facts.kernel else _unknown("kernel", "uname"),
    ]
    if not facts.machine:
        checks.append(_unknown("arch", "uname -m"))
    elif facts.arch in ("amd64", "arm64"):
        checks.append(Check("arch", "ok", f"{facts.arch} ({facts.machine})"))
    else:
        checks.append(Check("arch", "fail", facts.machine,
                            "k3s and Kubernetes ship amd64 and arm64 binaries: use a 64-bit "
                            "x86 or ARM host"))
    if facts.swap_bytes:
        checks.append(Check("swap", "warn", f"{_gib(facts.swap_bytes)} on; will be turned off",
                            "turn swap off: sudo swapoff -a (and remove it from /etc/fstab); "
                            "the plan does this"))
    else:
        checks.append(Check("swap", "ok", "off"))
    if facts.cgroup_version == 2:
        checks.append(Check("cgroup", "ok", "v2"))
    elif facts.cgroup_version == 1:
        checks.append(Check("cgroup", "warn", "v1",
                            "cgroup v1 works but is deprecated since Kubernetes 1.31: boot "
                            "with systemd.unified_cgroup_hierarchy=1 to use v2"))
    else:
        checks.append(Check("cgroup", "warn", facts.cgroup_fs or "unknown",
                            "cannot tell the cgroup version (stat -fc %T /sys/fs/cgroup)"))
    return checks


def runtime(facts: HostFacts, path: str) -> Check:
    """Which container runtime and Kubernetes pieces are already there; a clash warns."""
    found = sorted(facts.runtimes)
    value = ", ".join(found) if found else "none"
    if family(path) == "k3s" and "kubeadm" in found:
        return Check("runtime", "warn", value,
                     "kubeadm is installed: a kubeadm cluster may run here and would clash "
                     "with k3s; reset it (sudo kubeadm reset) or choose kubeadm-ssh")
    if family(path) == "kubeadm" and "k3s" in found:
        return Check("runtime", "warn", value,
                     "k3s is installed and would clash with kubeadm: uninstall it "
                     "(k3s-uninstall.sh) or choose k3s-ssh")
    if not found:
        value = ("none (k3s brings its own containerd)" if family(path) == "k3s"
                 else "none (the plan installs containerd)")
    return Check("runtime", "ok", value)


def gpus(facts: HostFacts, *, requested: bool) -> Check:
    """GPUs ``nvidia-smi`` sees; none is fine unless GPUs were asked for."""
    if facts.gpu_error:
        return Check("gpu", "warn", facts.gpu_error,
                     "the NVIDIA driver is not working: install or reload it until "
                     "nvidia-smi -L lists the GPUs (a reboot after installing it)")
    if facts.gpus:
        names = sorted({g.name for g in facts.gpus})
        mig = sum(g.mig_devices for g in facts.gpus)
        value = f"{len(facts.gpus)} × {', '.join(names)}"
        if facts.driver_version:
            value += f", driver {facts.driver_version}"
        if mig:
            value += f", {mig} MIG devices"
        return Check("gpu", "ok", value)
    if requested:
        return Check("gpu", "warn", "none",
                     "no NVIDIA GPU found: this host joins without GPUs (if it has one, "
                     "install the NVIDIA driver so nvidia-smi -L lists it)")
    return Check("gpu", "ok", "none")


def ports(facts: HostFacts, wanted: Sequence[tuple[int, str]]) -> Check:
    """The ports the path needs, free or held (and by which address)."""
    busy = []
    for port, proto in wanted:
        holders = facts.ports_in_use(port, proto)
        if holders:
            busy.append(f"{port}/{proto} ({', '.join(holders)})")
    listed = ", ".join(f"{p}/{proto}" for p, proto in wanted)
    if busy:
        first = busy[0].split("/")[0]
        return Check("ports", "fail", "in use: " + "; ".join(busy),
                     f"stop what listens there (sudo ss -ltnup 'sport = :{first}' shows "
                     f"it) or use another host")
    return Check("ports", "ok", f"free: {listed}")


def clock(skew_s: float | None, rtt_s: float) -> Check:
    """The host's clock against this machine's; ``rtt_s`` is subtracted (the remote
    reading happened somewhere within the round trip)."""
    if skew_s is None:
        return _unknown("clock", "the time (date +%s.%N)")
    certain = max(0.0, abs(skew_s) - rtt_s / 2)
    value = f"{skew_s:+.2f} s (±{rtt_s / 2:.2f})"
    fix = ("sync the clock with NTP (sudo timedatectl set-ntp true, or chrony): "
           "certificates and etcd need clocks that agree")
    if certain > SKEW_FAIL_S:
        return Check("clock", "fail", value, fix)
    if certain > SKEW_WARN_S:
        return Check("clock", "warn", value, fix)
    return Check("clock", "ok", value)
