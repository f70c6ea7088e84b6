"""The host-wide things a real test node changes, and how they are put back.

Several test sessions may each run a node at once on one machine, so every node takes a
*slot* (an flock held as long as it runs) that gives it its own bridge, subnet and cgroup
root. The kubelet sets sysctls for the whole machine (``vm.overcommit_memory``,
``kernel.panic``, ``kernel.panic_on_oops``, ...): the first node records the values before
any node ran (the *baseline*), and the last node to stop writes them back. A baseline left
by a killed session is restored before a new one is recorded.

Everything here is plain functions over ``/proc``, ``/sys`` and ``ip``; the locks live in
:data:`STATE_DIR`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

STATE_DIR = Path("/run/mlops-tui-node")
#: the name prefix of the work dirs nodes create (only such a dir is removed as stale)
WORKDIR_PREFIX = "mlops-tui-node-"
MAX_SLOTS = 32
#: what kubelet 1.20 writes at start (setupKernelTunables), relative to /proc/sys
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
_PROC_SYS = Path("/proc/sys")
_CGROUP_FS = Path("/sys/fs/cgroup")


@dataclass
class Slot:
    """One node's share of the host: bridge ``mltnode<i>`` with 10.250.<i>.1/24."""

    index: int
    fd: int = field(repr=False)

    @property
    def bridge(self) -> str:
        return f"mltnode{self.index}"

    @property
    def host_ip(self) -> str:
        """The bridge's address: the node IP the kubelet serves on."""
        return f"10.250.{self.index}.1"

    @property
    def subnet(self) -> str:
        return f"10.250.{self.index}.0/24"

    @property
    def cgroup_root(self) -> str:
        """The kubelet's ``cgroupRoot``: its ``kubepods`` tree goes below it."""
        return f"/mlops-tui-node-{self.index}"

    @property
    def shim_cgroup(self) -> str:
        """Where containerd puts its shims, so a stale node's shims can be found."""
        return f"{self.cgroup_root}/shims"


# --------------------------------------------------------------------------- slots


@contextlib.contextmanager
def _host_lock() -> Iterator[None]:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(STATE_DIR / "host.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _slot_held(i: int) -> bool:
    """Whether some live process (this one included) holds slot ``i``."""
    path = STATE_DIR / f"slot-{i}.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def acquire_slot(workdir: Path | None = None) -> Slot:
    """Take a free slot; record the baseline when no other node runs.

    What killed sessions left in free slots is removed first: bridges, what still runs
    in their cgroups (pods and shims) and the work dirs they recorded. ``workdir`` (a
    directory this node created and will remove) is recorded the same way.

    Raises:
        RuntimeError: every slot is taken.
    """
    with _host_lock():
        held = [i for i in range(MAX_SLOTS) if _slot_held(i)]
        if not held:
            restore_baseline()  # a killed session's baseline is the real one
            _save_baseline()
        mine: Slot | None = None
        for i in range(MAX_SLOTS):
            path = STATE_DIR / f"slot-{i}.lock"
            if i in held or (mine is not None and not path.exists()):
                continue
            # every slot is taken under the host lock: a free one locks at once
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            slot = Slot(i, fd)
            _clean_stale(slot)
            os.ftruncate(fd, 0)
            if mine is None:
                os.pwrite(fd, str(workdir or "").encode(), 0)
                mine = slot
            else:
                os.close(fd)
        if mine is not None:
            return mine
    raise RuntimeError(f"all {MAX_SLOTS} real-node slots are in use")


def _clean_stale(slot: Slot) -> None:
    delete_bridge(slot.bridge)
    remove_cgroup_root(slot.cgroup_root)
    stale = os.pread(slot.fd, 4096, 0).decode(errors="replace").strip()
    if stale and Path(stale).name.startswith(WORKDIR_PREFIX) and Path(stale).is_dir():
        remove_tree(Path(stale))


def release_slot(slot: Slot) -> None:
    """Give the slot back; the last node restores the baseline."""
    with _host_lock():
        os.ftruncate(slot.fd, 0)  # a node that stopped left nothing stale (or kept it)
        os.close(slot.fd)
        if not any(_slot_held(i) for i in range(MAX_SLOTS)):
            restore_baseline()


# --------------------------------------------------------------------------- sysctls


def read_sysctls() -> dict[str, str]:
    """The current values of :data:`KUBELET_SYSCTLS`."""
    return {k: (_PROC_SYS / k).read_text().strip() for k in KUBELET_SYSCTLS}


def _save_baseline() -> None:
    (STATE_DIR / "baseline.json").write_text(json.dumps({"sysctls": read_sysctls()}))


def restore_baseline() -> None:
    """Write the recorded sysctls back and forget them (nothing when none recorded)."""
    path = STATE_DIR / "baseline.json"
    try:
        baseline = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for key, value in baseline.get("sysctls", {}).items():
        if key in KUBELET_SYSCTLS and (_PROC_SYS / key).read_text().strip() != value:
            (_PROC_SYS / key).write_text(value)
    path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- bridge


def create_bridge(slot: Slot) -> None:
    """The node's bridge with the host address; no forwarding, no NAT."""
    run(["ip", "link", "add", slot.bridge, "type", "bridge"])
    run(["ip", "addr", "add", f"{slot.host_ip}/24", "dev", slot.bridge])
    run(["ip", "link", "set", slot.bridge, "up"])


def bridge_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def delete_bridge(name: str) -> None:
    if bridge_exists(name):
        run(["ip", "link", "del", name])


def run(argv: list[str]) -> None:
    """Run a short host command; its stderr in the error when it fails."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


# --------------------------------------------------------------------------- cgroups


def cgroup_mounts() -> list[Path]:
    """Every cgroup (v1 and v2) hierarchy mounted under /sys/fs/cgroup."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype = right.split(" ", 1)[0]
        mountpoint = Path(left.split(" ")[4])
        if fstype in ("cgroup", "cgroup2") and _CGROUP_FS in mountpoint.parents:
            found.append(mountpoint)
    return found


def make_cgroup_root(rel: str) -> None:
    """Create ``rel`` (e.g. ``/mlops-tui-node-0``) in every hierarchy (the kubelet
    refuses a cgroupRoot missing from one); a new cpuset gets its parent's cpus/mems."""
    for mount in cgroup_mounts():
        path = mount / rel.lstrip("/")
        path.mkdir(exist_ok=True)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            mine = path / knob
            if mine.exists() and not mine.read_text().strip():
                mine.write_text((path.parent / knob).read_text())


def cgroup_pids(rel: str) -> set[int]:
    """PIDs anywhere below ``rel`` in any hierarchy."""
    pids: set[int] = set()
    for mount in cgroup_mounts():
        root = mount / rel.lstrip("/")
        if root.is_dir():
            for procs in root.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in procs.read_text().split())
    return pids


def remove_cgroup_root(rel: str, timeout: float = 10.0) -> list[str]:
    """SIGKILL what still runs below ``rel`` (our pods' processes), then remove the
    tree bottom-up in every hierarchy. Returns the directories that could not go."""
    deadline = time.monotonic() + timeout
    while (pids := cgroup_pids(rel)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    left: list[str] = []
    for mount in cgroup_mounts():
        root = mount / rel.lstrip("/")
        if not root.is_dir():
            continue
        dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*dirs, root]:
            for _ in range(50):  # a just-killed task can hold its cgroup for a moment
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                left.append(str(d))
    return left


# --------------------------------------------------------------------------- files


def host_mounts_under(path: Path) -> list[str]:
    """Mount points below ``path`` in this process's mount table (deepest first)."""
    prefix = str(path).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split(" ")[4]
        if point.startswith(prefix):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Remove a node's work dir; unmount first whatever leaked into the host's table."""
    for point in host_mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
    shutil.rmtree(path, ignore_errors=True)
