"""What a host is: one POSIX shell script run over SSH, and a pure parser of its output.

The script (:data:`FACTS_SCRIPT`, no bash-isms, no root needed) prints sections, each
after a ``@@mlops-facts:NAME@@`` line. :func:`parse_facts` turns that text into
:class:`HostFacts`; a section that is missing or unreadable leaves its field empty and is
named in ``HostFacts.missing`` (a check then says "unknown" rather than guessing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_tui.backends.ssh.facts_parse import (
    Gpu,
    parse_df,
    parse_gpus,
    parse_listeners,
    parse_os_release,
    parse_swaps,
    split_sections,
    unix_time,
)

__all__ = ["FACTS_SCRIPT", "Gpu", "HostFacts", "parse_facts"]
MARKER = "@@mlops-facts:"

FACTS_SCRIPT = r"""
s() { printf '\n@@mlops-facts:%s@@\n' "$1"; }
has() { command -v "$1" >/dev/null 2>&1; }
LC_ALL=C; export LC_ALL
s hostname; uname -n
s os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s uname; uname -r; uname -m
s nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null
s meminfo; grep '^MemTotal:' /proc/meminfo 2>/dev/null
s df; for p in / /var; do printf 'path %s\n' "$p"; df -Pk "$p" 2>/dev/null | tail -n +2; done
s swaps; cat /proc/swaps 2>/dev/null
s cgroup; stat -fc %T /sys/fs/cgroup 2>/dev/null
s runtimes
for c in containerd docker crio k3s kubeadm kubelet; do
  p=$(command -v "$c" 2>/dev/null) && printf '%s %s\n' "$c" "$p"
done
s nvidia-smi-L
if has nvidia-smi; then nvidia-smi -L 2>&1; echo "exit=$?"; else echo absent; fi
s nvidia-smi-query
if has nvidia-smi; then
  nvidia-smi --query-gpu=driver_version,name,memory.total --format=csv,noheader 2>&1
  echo "exit=$?"
else echo absent; fi
s tcp
if has ss; then ss -ltnH 2>/dev/null || ss -ltn
else echo proc; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; fi
s udp
if has ss; then ss -lunH 2>/dev/null || ss -lun
else echo proc; cat /proc/net/udp /proc/net/udp6 2>/dev/null; fi
s sudo
if [ "$(id -u)" = 0 ]; then echo root
elif ! has sudo; then echo absent
elif sudo -n true 2>/dev/null; then echo nopasswd
else echo password; fi
s time; date +%s.%N
s end
"""

ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, slots=True)
class HostFacts:
    """Facts of one host; empty values where the host did not say (see ``missing``)."""

    hostname: str = ""
    os_id: str = ""  # "ubuntu", "debian", "rhel", "rocky" …
    os_id_like: tuple[str, ...] = ()
    os_version: str = ""  # VERSION_ID
    os_pretty: str = ""  # PRETTY_NAME
    kernel: str = ""  # uname -r
    machine: str = ""  # uname -m
    cpus: int = 0
    memory_bytes: int = 0
    disk_free: dict[str, int] = field(default_factory=dict)  # "/", "/var" → bytes free
    swap_bytes: int = 0  # size of the active swap areas
    cgroup_fs: str = ""  # "cgroup2fs" (v2), "tmpfs" (v1)
    runtimes: dict[str, str] = field(default_factory=dict)  # name → path
    gpus: tuple[Gpu, ...] = ()
    driver_version: str = ""
    gpu_error: str = ""  # nvidia-smi is there but failed (driver not loaded …)
    tcp_listeners: tuple[tuple[str, int], ...] = ()  # (address, port)
    udp_listeners: tuple[tuple[str, int], ...] = ()
    sudo: str = ""  # "root" | "nopasswd" | "password" | "absent"
    remote_time: float | None = None  # unix time when the script's last line ran
    missing: tuple[str, ...] = ()  # sections absent or unreadable

    @property
    def arch(self) -> str:
        """``amd64`` / ``arm64`` as Kubernetes names them, else the raw ``uname -m``."""
        return ARCHES.get(self.machine, self.machine)

    @property
    def cgroup_version(self) -> int | None:
        return {"cgroup2fs": 2, "tmpfs": 1}.get(self.cgroup_fs)

    def ports_in_use(self, port: int, proto: str = "tcp") -> list[str]:
        """The addresses something listens on at ``port`` (``proto`` "tcp" or "udp")."""
        listeners = self.tcp_listeners if proto == "tcp" else self.udp_listeners
        return sorted({address for address, p in listeners if p == port})


def _int(text: str) -> int | None:
    try:
        return int(text.strip().split()[0])
    except (ValueError, IndexError):
        return None


def parse_facts(text: str) -> HostFacts:
    """Parse :data:`FACTS_SCRIPT`'s output (pure: no I/O).

    Returns:
        The facts; a missing or garbled section leaves its field empty and its name in
        ``missing`` (never an exception).
    """
    sections = split_sections(text, MARKER)
    missing: list[str] = []

    def take(name: str, *, may_be_empty: bool = False) -> str:
        value = sections.get(name, "").strip()
        if name not in sections or (not value and not may_be_empty):
            missing.append(name)
        return value

    os_release = parse_os_release(take("os-release"))
    uname = take("uname").splitlines()
    mem_kib = _int(take("meminfo").partition(":")[2])
    gpus, driver, gpu_error = parse_gpus(take("nvidia-smi-L"), take("nvidia-smi-query"))
    remote_time = unix_time(take("time"))
    cpus = _int(take("nproc"))
    for name, value in (("time", remote_time), ("nproc", cpus), ("meminfo", mem_kib)):
        if value is None and name not in missing:
            missing.append(name)  # there but garbled
    runtimes = {}
    for line in take("runtimes", may_be_empty=True).splitlines():
        name, _, path = line.strip().partition(" ")
        if name and path:
            runtimes[name] = path.strip()
    return HostFacts(
        hostname=next(iter(take("hostname").splitlines()), "").strip(),
        os_id=os_release.get("ID", ""),
        os_id_like=tuple(os_release.get("ID_LIKE", "").split()),
        os_version=os_release.get("VERSION_ID", ""),
        os_pretty=os_release.get("PRETTY_NAME", ""),
        kernel=uname[0].strip() if uname else "",
        machine=uname[1].strip() if len(uname) > 1 else "",
        cpus=cpus or 0,
        memory_bytes=(mem_kib or 0) * 1024,
        disk_free=parse_df(take("df")),
        swap_bytes=parse_swaps(take("swaps", may_be_empty=True)),
        cgroup_fs=take("cgroup"),
        runtimes=runtimes,
        gpus=gpus,
        driver_version=driver,
        gpu_error=gpu_error,
        tcp_listeners=parse_listeners(take("tcp", may_be_empty=True)),
        udp_listeners=parse_listeners(take("udp", may_be_empty=True)),
        sudo=take("sudo"),
        remote_time=remote_time,
        missing=tuple(missing),
    )
