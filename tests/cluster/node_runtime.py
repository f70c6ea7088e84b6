"""Configs and clean-up steps of :class:`tests.cluster.node.RealNode` (kept apart so the
node class stays readable): containerd's config, the KubeletConfiguration, evicting the
node's pods, and removing what a stopped node leaves behind.

Settings this machine needs and a real server would not (see the node module docstring):
no process may lower its OOM score here, so containerd's CRI has
``restrict_oom_score_adj`` and the kubelet ``oomScoreAdj: 0``; local-only images must
never be collected (image GC thresholds 100/99); the kubelet makes no iptables chains.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.cluster.node_host import Slot

if TYPE_CHECKING:
    from tests.cluster.node import RealNode

EVICT_TIMEOUT_S = 30.0


def cni_conflist(slot: Slot, ipam_dir: Path) -> dict[str, Any]:
    """The pod network: the slot's bridge without gateway or masquerade (no forwarding,
    no default route in pods), so pods reach only this subnet."""
    i = slot.index
    bridge = {
        "type": "bridge",
        "bridge": slot.bridge,
        "isGateway": False,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{
                "subnet": slot.subnet,
                "rangeStart": f"10.250.{i}.10",
                "rangeEnd": f"10.250.{i}.250",
            }]],
            "dataDir": str(ipam_dir),
        },
    }
    return {"cniVersion": "0.4.0", "name": f"mlops-tui-node-{i}", "plugins": [bridge]}


def containerd_argv(varlog: Path, config: Path) -> list[str]:
    """containerd in a private mount namespace whose /run, /var/lib (tmpfs) and /var/log
    (``varlog``) are its own; the kubelet joins it (see the node module docstring)."""
    setup = (
        "set -e; mount -t tmpfs -o mode=755 node-run /run; mkdir -p /run/netns; "
        "mount -t tmpfs -o mode=755 node-varlib /var/lib; mkdir -p /var/lib/cni; "
        f'mount --bind "{varlog}" /var/log; '
        f'exec containerd --config "{config}"'
    )
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup]


def kubelet_argv(
    node: RealNode, kubelet: Path, containerd_pid: int | None, config: Path, kubeconfig: Path
) -> list[str]:
    """The kubelet, in containerd's mount namespace, registering the tainted node."""
    from tests.cluster.node import IMAGES, LABEL_KEY

    assert node.slot is not None and node.workdir is not None
    kdir = node.workdir / "kubelet"
    return [
        "nsenter", f"--mount=/proc/{containerd_pid}/ns/mnt", "--",
        str(kubelet),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={kdir / 'root'}",
        f"--cert-dir={kdir / 'pki'}",
        "--container-runtime=remote",
        f"--container-runtime-endpoint=unix://{node.containerd_socket}",
        f"--pod-infra-container-image={IMAGES['pause']}",
        f"--node-ip={node.slot.host_ip}",
        f"--hostname-override={node.name}",
        f"--node-labels={LABEL_KEY}=true",
        f"--register-with-taints={LABEL_KEY}=true:NoSchedule",
        "--v=1",
    ]


def containerd_config(workdir: Path, sandbox_image: str, shim_cgroup: str) -> str:
    """containerd 1.6 config (version 2): own root, state, socket and CNI dirs; shims in
    ``shim_cgroup``."""
    c = workdir / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{c / 'containerd.sock'}"

[ttrpc]
  address = "{c / 'containerd.sock.ttrpc'}"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{c / 'opt'}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  max_container_log_line_size = 16384

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  ShimCgroup = "{shim_cgroup}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{workdir / 'cni' / 'net.d'}"
  max_conf_num = 1
"""


def kubelet_config(node: RealNode, resolv_conf: Path) -> dict[str, Any]:
    """KubeletConfiguration (v1beta1) for this machine; JSON is valid YAML."""
    assert node.slot is not None and node.workdir is not None
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node.slot.host_ip,
        "port": node.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": node.healthz_port,
        # only the API server (its kubelet client cert, signed by the test CA) gets in
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(node.cp.ca_file)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.slot.cgroup_root,
        "cgroupsPerQOS": True,
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "oomScoreAdj": 0,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "resolvConf": str(resolv_conf),
        "clusterDNS": ["127.0.0.1"],
        "clusterDomain": "cluster.local",
        "volumePluginDir": str(node.workdir / "kubelet" / "volume-plugins"),
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "protectKernelDefaults": False,
        "syncFrequency": "10s",
        "nodeStatusUpdateFrequency": "5s",
    }


def evict_pods(node: RealNode) -> None:
    """Force-delete every pod bound to the node, then wait (bounded) until the kubelet
    has stopped their containers and sandboxes (so CNI tears their network down)."""
    with contextlib.suppress(Exception):  # the control plane may be gone already
        core = node.cp.core_v1()
        pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node.name}")
        for pod in pods.items:
            with contextlib.suppress(Exception):
                core.delete_namespaced_pod(
                    pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0
                )
    if "kubelet" not in node.pids() or "containerd" not in node.pids():
        return
    deadline = time.monotonic() + EVICT_TIMEOUT_S
    while time.monotonic() < deadline:
        res = node._ctr("tasks", "ls")
        if res.returncode or "RUNNING" not in res.stdout:
            return
        time.sleep(0.3)


def shim_pids(socket_path: Path) -> list[int]:
    """containerd-shim processes that serve the containerd at ``socket_path``."""
    found = []
    want = str(socket_path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and want in argv:
            found.append(int(entry.name))
    return found


def kill_shims(node: RealNode) -> None:
    """SIGKILL the node's shims still alive after containerd stopped (by PID)."""
    if node.workdir is None:
        return
    for pid in shim_pids(node.containerd_socket):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
