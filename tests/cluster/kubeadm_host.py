"""A host for ``kubeadm init`` for real: sshd, containerd and (once the playbook ran) the
kubelet in a network namespace of their own, with private views of the host's files.

``tests/cluster/build-kubeadm.sh`` builds the air-gap bundle the playbook installs from;
:class:`KubeadmHost` makes the host the playbook provisions over SSH::

    with KubeadmHost() as host:
        run ansible-playbook playbooks/kubeadm.yml -i host.inventory() -e host.playbook_vars()
        host.ssh("cat /etc/kubernetes/admin.conf")   # API at https://10.251.0.2:6443

Network: a veth pair (this machine 10.251.0.1/24, the node 10.251.0.2/24), no gateway, no
forwarding, no NAT; pods get 10.252.0.0/24 on the bundle's bridge inside the namespace.
kube-proxy and CoreDNS are skipped (``kubeadm_skip_phases``), as on the real node.

Files: the namespace shares this machine's filesystem, so sshd starts in a private mount
namespace where ``/etc``, ``/var`` and ``/usr`` are overlays whose upper layers live in
the host's work dir, ``/run`` is a tmpfs and root's home an empty directory (as on a fresh
server: this machine's shell start-up files, pyenv's among them, never run there). Whatever the playbook and kubeadm write
there (``/etc/kubernetes``, ``/var/lib/etcd``, ``/var/lib/kubelet``, ``/var/lib/cni``,
``/etc/hosts``' node line, ``/usr/local/bin/kube*``, the kubelet's mounts and pod logs)
never reaches the host: there is nothing to back up or restore, and
:func:`host_snapshot` lets a test check so. containerd and the kubelet join that mount
namespace (containerd with ``nsenter``, the kubelet by being started over SSH).

What is host-wide is shared with the real node's code (:mod:`tests.cluster.node_host`):
the host takes a node *slot*, whose cgroup root holds the kubelet's pods and containerd's
shims and whose release restores the sysctls the kubelet sets.

No systemd: the playbook runs with ``kubeadm_kubelet_supervisor: process`` (a restart
loop, its PID in ``/run/mlops-tui-kubelet.pid`` of the namespace). :meth:`stop` ends the
loop, containerd, sshd and anything else in the namespace by PID, kills what is left in the
slot's cgroups, and removes the namespace, the veth pair and the work dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from tests.cluster import node_host, node_runtime
from tests.cluster.controlplane import K8S_VERSION, _Proc, _tail
from tests.cluster.node import DEAD_PROXY

NETNS = "mlops-tui-kubeadm"
VETH_HOST, VETH_NODE = "mltkadm-h", "mltkadm-n"
HOST_IP, NODE_IP = "10.251.0.1", "10.251.0.2"
NODE_NAME = "kubeadm-1"
SANDBOX_IMAGE = "localhost/kubeadm/pause:3.2"
#: what the host's view must keep (the test compares :func:`host_snapshot` before/after)
HOST_PATHS = ("/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet", "/var/lib/cni",
              "/etc/cni", "/etc/hosts", "/usr/local/bin", "/var/log/pods", "/root/.kube")
OVERLAID = ("etc", "var", "usr")
PID_FILE = "/run/mlops-tui-kubelet.pid"
BUILD_SCRIPT = Path(__file__).resolve().parent / "build-kubeadm.sh"
LOCK = node_host.STATE_DIR / "kubeadm-host.lock"
#: kubeadm preflight errors this machine needs ignored (forwarding must stay off here;
#: HTTPProxyCIDR fails only because Go 1.27 rejects the bracketed IPv4 literal it builds)
IGNORED_PREFLIGHT = ["FileContent--proc-sys-net-ipv4-ip_forward", "HTTPProxyCIDR"]


class KubeadmHostError(RuntimeError):
    """The host could not be made (message includes the log tail)."""


def default_bundle_dir() -> Path:
    """``$MLOPS_TUI_KUBEADM_DIR/bundle`` or ``~/.cache/mlops-tui/kubeadm-v1.20.2/bundle``."""
    env = os.environ.get("MLOPS_TUI_KUBEADM_DIR")
    if env:
        return Path(env) / "bundle"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlops-tui" / f"kubeadm-v{K8S_VERSION}" / "bundle"


def missing_reason(bundle: Path | None = None) -> str | None:
    """Why the host cannot be made here, or None."""
    parts = []
    if os.geteuid() != 0:
        parts.append("not root")
    if not ((bundle or default_bundle_dir()) / "bundle.json").is_file():
        parts.append("no kubeadm bundle")
    for tool in ("containerd", "runc", "ctr", "unshare", "nsenter", "ip", "ssh", "ssh-keygen",
                 "conntrack"):
        if shutil.which(tool) is None:
            parts.append(f"no {tool}")
    if not Path("/usr/sbin/sshd").exists():
        parts.append("no sshd (apt-get install -y openssh-server)")
    if not parts:
        return None
    return f"{', '.join(parts)} (build the bundle, ~1 min warm: bash tests/cluster/build-kubeadm.sh)"


def host_snapshot() -> dict[str, Any]:
    """What :data:`HOST_PATHS` hold in this process's view: names, sizes, mtimes."""
    snap: dict[str, Any] = {}
    for top in HOST_PATHS:
        path = Path(top)
        if not path.exists():
            snap[top] = None
        elif path.is_file():
            st = path.stat()
            snap[top] = (st.st_size, st.st_mtime_ns)
        else:
            snap[top] = sorted(
                (str(p.relative_to(path)), p.lstat().st_size, p.lstat().st_mtime_ns)
                for p in path.rglob("*")
            )
    return snap


def _ip(*args: str, check: bool = True) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode:
        raise KubeadmHostError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


class KubeadmHost:
    """sshd + containerd in the namespace :data:`NETNS` at :data:`NODE_IP`, ready for the
    kubeadm playbook (one at a time on a machine: a lock file serializes sessions)."""

    def __init__(self, bundle: Path | None = None) -> None:
        self.bundle = Path(bundle) if bundle else default_bundle_dir()
        self.workdir: Path | None = None
        self.slot: node_host.Slot | None = None
        self._lock_fd: int | None = None
        self._procs: dict[str, _Proc] = {}
        self._mnt_ns: tuple[int, int] | None = None
        self.timings: dict[str, float] = {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what tests use
    @property
    def ssh_key(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "ssh" / "known_hosts"

    @property
    def containerd_socket(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "cni" / "net.d"

    def log_path(self, name: str) -> Path:
        assert self.workdir is not None
        return self.workdir / "logs" / f"{name}.log"

    def inventory(self) -> dict[str, Any]:
        """An Ansible inventory (YAML/JSON shape) with the node in group ``server``."""
        host = {
            "ansible_host": NODE_IP,
            "ansible_port": 22,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.ssh_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} "
                                       "-o StrictHostKeyChecking=yes",
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        return {"all": {"children": {"server": {"hosts": {NODE_NAME: host}},
                                     "agent": {"hosts": {}}}}}

    def playbook_vars(self) -> dict[str, Any]:
        """The kubeadm roles' variables for this machine (see the module docstring)."""
        assert self.workdir is not None and self.slot is not None
        resolv = self.workdir / "resolv.conf"
        return {
            "kubeadm_bundle_dir": str(self.bundle),
            "kubeadm_kubelet_supervisor": "process",
            "kubeadm_containerd_socket": str(self.containerd_socket),
            "kubeadm_cni_conf_dir": str(self.cni_conf_dir),
            "kubeadm_advertise_address": NODE_IP,
            "kubeadm_node_ip": NODE_IP,
            "kubeadm_node_name": NODE_NAME,
            "kubeadm_pod_subnet": "10.252.0.0/24",
            "kubeadm_ignore_preflight_errors": IGNORED_PREFLIGHT,
            "kubeadm_skip_phases": ["addon/kube-proxy", "addon/coredns"],
            # kubelet 1.20's AWS credential code would dial the cloud metadata address
            "kubeadm_kubelet_environment": {"AWS_EC2_METADATA_DISABLED": "true"},
            # the namespace shares this machine's packages: report, never install
            "kubeadm_host_packages_check_only": True,
            "kubeadm_kubelet_config": {
                "cgroupDriver": "cgroupfs",
                "cgroupRoot": self.slot.cgroup_root,
                "failSwapOn": False,
                "makeIPTablesUtilChains": False,
                "oomScoreAdj": 0,  # no process may lower its OOM score here
                "imageGCHighThresholdPercent": 100,  # local-only images: never collected
                "imageGCLowThresholdPercent": 99,
                "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                                 "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
                "resolvConf": str(resolv),
                "clusterDNS": ["127.0.0.1"],
                "volumePluginDir": "/var/lib/kubelet/volume-plugins",
                "protectKernelDefaults": False,
                "nodeStatusUpdateFrequency": "5s",
            },
        }

    def ssh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``command`` on the node over SSH (as root), output captured as text."""
        return subprocess.run(
            ["ssh", "-i", str(self.ssh_key), "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
             "-o", "ConnectTimeout=10", f"root@{NODE_IP}", command],
            capture_output=True, text=True, timeout=timeout,
        )

    def ctr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``ctr`` against the node's containerd (namespace k8s.io)."""
        return subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            capture_output=True, text=True, timeout=timeout,
        )

    def in_namespace(self, path: str) -> Path:
        """``path`` as the node sees it (through sshd's mount namespace)."""
        pid = self._pid("sshd")
        assert pid is not None, "host not started"
        return Path(f"/proc/{pid}/root") / path.lstrip("/")

    # ---- lifecycle
    def start(self) -> Self:
        """Make the namespace, start sshd and containerd.

        Raises:
            KubeadmHostError: something is missing or did not come up (all of it undone).
        """
        reason = missing_reason(self.bundle)
        if reason:
            raise KubeadmHostError(reason)
        t0 = time.monotonic()
        self._take_lock()
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{node_host.WORKDIR_PREFIX}kubeadm-"))
            os.pwrite(self._lock_fd, str(self.workdir).encode(), 0)  # type: ignore[arg-type]
            self.slot = node_host.acquire_slot(self.workdir)
            self._make_dirs()
            self._make_network()
            node_host.make_cgroup_root(self.slot.cgroup_root)
            node_host.make_cgroup_root(self.slot.shim_cgroup)
            self._start_sshd()
            self.timings["sshd"] = time.monotonic() - t0
            self._start_containerd()
            self.timings["containerd"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything in the namespace by PID, remove the pods' cgroups, the
        namespace, the veth pair and the work dir; restore the sysctls (last node)."""
        left: list[str] = []
        try:
            self._stop_kubelet_loop()
            proc = self._procs.pop("containerd", None)
            if proc is not None:
                proc.stop(timeout=10)
            self._kill_namespace_members()
            proc = self._procs.pop("sshd", None)
            if proc is not None:
                proc.stop(timeout=5)
            if self.workdir is not None:
                for pid in node_runtime.shim_pids(self.containerd_socket):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            if self.slot is not None:
                left = node_host.remove_cgroup_root(self.slot.cgroup_root)
            self._remove_network()
        finally:
            if self.slot is not None:
                node_host.release_slot(self.slot)
                self.slot = None
            if self.workdir is not None:
                node_host.remove_tree(self.workdir)
                self.workdir = None
            self._release_lock()
        if left:
            raise KubeadmHostError(f"cgroups left behind: {left}")

    # ---- pieces
    def _take_lock(self) -> None:
        node_host.STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another session's host: wait for it
        self._lock_fd = fd
        stale = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        self._remove_stale(stale)
        os.ftruncate(fd, 0)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _remove_stale(self, stale_workdir: str) -> None:
        """What a killed session left: processes in the namespace, the namespace, its dir."""
        if Path("/run/netns", NETNS).exists():
            pids = subprocess.run(["ip", "netns", "pids", NETNS], capture_output=True,
                                  text=True, timeout=10).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        self._remove_network()
        path = Path(stale_workdir) if stale_workdir else None
        if path and path.name.startswith(node_host.WORKDIR_PREFIX) and path.is_dir():
            node_host.remove_tree(path)

    def _make_dirs(self) -> None:
        assert self.workdir is not None
        for sub in ("logs", "ssh", "containerd", "cni/net.d", "ansible", "home-root"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        for name in OVERLAID:
            for layer in ("upper", "work"):
                (self.workdir / "overlay" / name / layer).mkdir(parents=True)
        (self.workdir / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        ssh = self.workdir / "ssh"
        for key in ("host_ed25519", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key,
                            "-f", str(ssh / key)], check=True, capture_output=True, timeout=30)
        shutil.copy(ssh / "id_ed25519.pub", ssh / "authorized_keys")
        host_pub = (ssh / "host_ed25519.pub").read_text().split()
        (ssh / "known_hosts").write_text(f"{NODE_IP} {host_pub[0]} {host_pub[1]}\n")
        (ssh / "sshd_config").write_text(
            f"ListenAddress {NODE_IP}\nPort 22\nHostKey {ssh / 'host_ed25519'}\n"
            f"AuthorizedKeysFile {ssh / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPidFile none\nSubsystem sftp internal-sftp\n"
            "MaxStartups 50\nMaxSessions 50\nLogLevel ERROR\n"
        )

    def _make_network(self) -> None:
        _ip("netns", "add", NETNS)
        _ip("link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NODE)
        _ip("link", "set", VETH_NODE, "netns", NETNS)
        _ip("addr", "add", f"{HOST_IP}/24", "dev", VETH_HOST)
        _ip("link", "set", VETH_HOST, "up")
        _ip("-n", NETNS, "addr", "add", f"{NODE_IP}/24", "dev", VETH_NODE)
        _ip("-n", NETNS, "link", "set", VETH_NODE, "up")
        _ip("-n", NETNS, "link", "set", "lo", "up")

    def _remove_network(self) -> None:
        _ip("link", "del", VETH_HOST, check=False)
        _ip("netns", "del", NETNS, check=False)

    def _start_sshd(self) -> None:
        assert self.workdir is not None
        w = self.workdir
        mounts = "; ".join(
            f"mount -t overlay mlt-kadm-{d} -o lowerdir=/{d},upperdir={w}/overlay/{d}/upper,"
            f"workdir={w}/overlay/{d}/work /{d}" for d in OVERLAID
        )
        setup = (
            f"set -e; {mounts}; mount -t tmpfs -o mode=755 mlt-kadm-run /run; "
            f"mount --bind {w}/home-root /root; "
            f"mkdir -p /run/sshd; echo '{NODE_IP} {NODE_NAME}' >>/etc/hosts; "
            f"hostname {NODE_NAME}; exec /usr/sbin/sshd -D -e -f {w}/ssh/sshd_config"
        )
        argv = ["nsenter", f"--net=/run/netns/{NETNS}", "--", "unshare", "--mount", "--uts",
                "--propagation", "private", "--", "sh", "-c", setup]
        self._launch("sshd", argv, None)
        self._wait("sshd", lambda: self.ssh("true", timeout=15).returncode == 0, 30)
        pid = self._pid("sshd")
        st = os.stat(f"/proc/{pid}/ns/mnt")
        self._mnt_ns = (st.st_dev, st.st_ino)

    def _start_containerd(self) -> None:
        assert self.workdir is not None and self.slot is not None
        config = self.workdir / "containerd" / "config.toml"
        config.write_text(
            node_runtime.containerd_config(self.workdir, SANDBOX_IMAGE, self.slot.shim_cgroup)
        )
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
        env.update(HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY, NO_PROXY="127.0.0.1,localhost")
        argv = ["nsenter", f"--target={self._pid('sshd')}", "--mount", "--net", "--uts", "--",
                "containerd", "--config", str(config)]
        self._launch("containerd", argv, env)
        self._wait("containerd", lambda: self.ctr("version", timeout=10).returncode == 0, 30)

    def _stop_kubelet_loop(self) -> None:
        """TERM the restart loop (it stops the kubelet), bounded; SIGKILL after."""
        if self._pid("sshd") is None:
            return
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.in_namespace(PID_FILE).read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)

    def _kill_namespace_members(self) -> None:
        """SIGKILL what still runs in sshd's mount namespace (all started by this host:
        sessions, the kubelet, stray shims), sshd itself last (by :meth:`stop`)."""
        if self._mnt_ns is None:
            return
        sshd = self._pid("sshd")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == sshd:
                continue
            with contextlib.suppress(OSError):
                st = os.stat(entry / "ns" / "mnt")
                if (st.st_dev, st.st_ino) == self._mnt_ns:
                    os.kill(int(entry.name), signal.SIGKILL)

    def _pid(self, name: str) -> int | None:
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.alive() else None

    def _launch(self, name: str, argv: list[str], env: dict[str, str] | None) -> None:
        proc = _Proc(name, argv, self.log_path(name), env)
        proc.start()
        self._procs[name] = proc

    def _wait(self, name: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self._procs[name]
            if not proc.alive():
                raise KubeadmHostError(
                    f"{name} exited; log {self.log_path(name)}:\n{_tail(self.log_path(name))}")
            with contextlib.suppress(Exception):
                if check():
                    return
            if time.monotonic() > deadline:
                raise KubeadmHostError(
                    f"{name} not up after {timeout:.0f}s; log {self.log_path(name)}:\n"
                    f"{_tail(self.log_path(name))}")
            time.sleep(0.2)


def api_reachable(timeout: float = 2.0) -> bool:
    """Whether a TCP connect to the node's API port succeeds."""
    try:
        with socket.create_connection((NODE_IP, 6443), timeout=timeout):
            return True
    except OSError:
        return False


def write_inventory(host: KubeadmHost, path: Path) -> Path:
    """The host's inventory as a JSON file (valid YAML) for ``ansible-playbook -i``."""
    path.write_text(json.dumps(host.inventory(), indent=2))
    return path
