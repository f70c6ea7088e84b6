"""A real node for the test cluster: kubelet v1.20.2 + containerd, pods that really run.

``tests/cluster/build-node.sh`` builds the kubelet (same tree and Go recipe as the control
plane) and three local images; :class:`RealNode` starts containerd and the kubelet, joins
the node to a :class:`~tests.cluster.controlplane.ControlPlane` and waits for it to be
Ready (~16-25 s). Logs, exec, port-forward, the API server's pod proxy and probes work
through it, as on a real cluster.

Typical use (or the session fixture ``real_node`` in tests/cluster/fixtures.py)::

    with RealNode(cp) as node:
        pod = {"metadata": {"name": "p"}, "spec": node.place({"containers": [
            {"name": "c", "image": node.images["busybox"], "command": ["sleep", "60"]}]})}

The node ``real-1`` carries the taint ``mlops-tui.test/real-node=true:NoSchedule`` and the
label ``mlops-tui.test/real-node=true``: other tests' pods stay off it, and a pod meant for
it needs :attr:`RealNode.toleration` and :attr:`RealNode.node_selector` (``place`` adds
both). Images are never pulled: use the names in :attr:`RealNode.images` (non-``latest``
tags, so the default pull policy ``IfNotPresent`` finds them; ``Never`` works too). The
Triton image is still being imported when ``start()`` returns: ``node.images["triton"]``
waits until it is there (``"triton" in node.images`` does not wait). An
image that is not local fails with ``ErrImageNeverPull``/``ImagePullBackOff``; containerd
gets a dead proxy so nothing can be fetched from outside.

Images (``localhost/mlops-tui-test/...``):

- ``pause:1.0``: the sandbox image (containerd's ``sandbox_image``).
- ``busybox:1.0``: busybox-static with every applet in ``/bin``; default command ``sh``.
  Its ``wget`` segfaults here: probe with ``nc`` or HTTP probes.
- ``tritonserver:2.51``: Triton Inference Server 2.51 (CPU) from the ``nvidia-pytriton``
  venv at ``/opt/triton-venv``, with Python 3.11 and its standard library, ``bash`` (the
  Python backend starts its stub with ``bash -c``), the host's shared libraries, and
  ``busybox`` (``busybox nc ...`` for exec). ``/opt/tritonserver`` links to the wheel's
  ``pytriton/tritonserver`` directory, whose ``backends/python`` holds the 3.11 stub, so
  Triton's default ``--backend-directory`` and ``--cache-directory`` are right. The image
  sets ``PATH=/opt/triton-venv/bin:/opt/tritonserver/bin:...`` (the venv's ``python3``
  first: its numpy 1.26) and ``LD_LIBRARY_PATH`` to the wheel's ``nvidia_pytriton.libs``.
  Entrypoint ``/usr/bin/triton-entrypoint`` (as the NGC image's: arguments that start
  with a command run it, options alone go to ``tritonserver``), cmd
  ``["--model-repository=/models"]`` (``/models`` is an empty directory: mount the
  repository there). Each of these works in a pod::

      command: ["tritonserver", "--model-repository=/models",
                "--backend-config=python,shm-region-prefix-name=P"]
      args: ["tritonserver", "--model-repository=/models"]   # as KServe/deploy write it
      args: ["--model-repository=/models", "--http-port=8000"]

  Ports: HTTP 8000, gRPC 8001, metrics 8002 (Triton's defaults, on all pod addresses).
  The pod's ``/dev/shm`` is containerd's 64 MiB default: enough for toy Python models.
  Probe readiness with ``httpGet /v2/health/ready`` on 8000 (Ready ~5.5 s after start).
  Models from a ConfigMap: mount it per model (``mountPath: /models/NAME``, items
  ``config.pbtxt`` and ``1/model.py``); mounted at ``/models`` itself, the volume's own
  ``..data``/``..2026_...`` entries are taken for models, fail to load, and the server
  exits ("failed to load all models") unless ``--model-control-mode=explicit``.
  "Failed to initialize NVML" / "DCGM unable to start" in its log are harmless (no GPU).

Networking: pods get addresses in 10.250.<slot>.0/24 on the node's own bridge, whose
host address :attr:`RealNode.ip` is also the node IP. The host reaches pod IPs directly
(:meth:`RealNode.pod_ip_reachable`); pods reach each other and the host's bridge address,
nothing else (no default route, no NAT, no forwarding, no DNS). There is no kube-proxy:
Service ClusterIPs do not work; use the API server's pod/service proxy, a port-forward or
the pod IP.

Isolation: containerd and the kubelet run in a private mount namespace whose ``/run``,
``/var/lib`` (tmpfs) and ``/var/log`` (a directory of the node's work dir) are their own,
so their mounts, network-namespace files, CNI cache and pod logs never reach the host's
tables; the namespace and its mounts vanish when they exit. What is host-wide (sysctls the
kubelet sets, the bridge, the ``/mlops-tui-node-<slot>`` cgroups) is put back by
:meth:`RealNode.stop`, see :mod:`tests.cluster.node_host`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from tests.cluster import node_host, node_runtime
from tests.cluster.controlplane import K8S_VERSION, ControlPlane, _Proc, _tail, free_port

NODE_NAME = "real-1"
LABEL_KEY = "mlops-tui.test/real-node"
REGISTRY = "localhost/mlops-tui-test"
IMAGES = {
    "pause": f"{REGISTRY}/pause:1.0",
    "busybox": f"{REGISTRY}/busybox:1.0",
    "triton": f"{REGISTRY}/tritonserver:2.51",
}
REQUIRED_IMAGES = ("pause", "busybox")
CNI_BIN_DIR = Path("/usr/lib/cni")
BUILD_SCRIPT = Path(__file__).resolve().parent / "build-node.sh"
READY_TIMEOUT_S = 90.0
IMPORT_TIMEOUT_S = 300.0
#: containerd pulls through this (nothing listens): no image ever comes from outside
DEAD_PROXY = "http://127.0.0.1:9"


class NodeError(RuntimeError):
    """The node could not be started (message includes the log tail)."""


def default_node_dir() -> Path:
    """``$MLOPS_TUI_NODE_DIR`` or ``${XDG_CACHE_HOME:-~/.cache}/mlops-tui/node-v1.20.2``."""
    env = os.environ.get("MLOPS_TUI_NODE_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlops-tui" / f"node-v{K8S_VERSION}"


def find_kubelet(node_dir: Path | None = None) -> Path | None:
    """The kubelet in ``$KUBEBUILDER_ASSETS`` or the build script's output dir."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    for d in [*([Path(assets)] if assets else []), node_dir or default_node_dir()]:
        if os.access(d / "kubelet", os.X_OK):
            return d / "kubelet"
    return None


def image_archive(role: str, node_dir: Path | None = None) -> Path | None:
    path = (node_dir or default_node_dir()) / "images" / f"{role}.tar"
    return path if path.is_file() else None


def missing_reason(node_dir: Path | None = None) -> str | None:
    """Why a node cannot start here, or None when everything is present."""
    parts = []
    if os.geteuid() != 0:
        parts.append("not root")
    if find_kubelet(node_dir) is None:
        parts.append("no kubelet")
    for tool in ("containerd", "runc", "ctr", "unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            parts.append(f"no {tool}")
    for plugin in ("bridge", "host-local", "loopback"):
        if not (CNI_BIN_DIR / plugin).exists():
            parts.append(f"no CNI plugin {plugin}")
    parts += [f"no {r} image" for r in REQUIRED_IMAGES if image_archive(r, node_dir) is None]
    if not parts:
        return None
    script = BUILD_SCRIPT.relative_to(BUILD_SCRIPT.parents[2])
    return f"{', '.join(parts)} (build them, ~2 min: bash {script})"


class NodeImages(Mapping[str, str]):
    """Role → image name for the images a node holds. A role still being imported (the
    Triton image unpacks in the background after :meth:`RealNode.start`, ~5-30 s) is
    listed at once, and its first lookup waits until it is there (or raises
    :class:`NodeError` when the import failed)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._pending: dict[str, concurrent.futures.Future] = {}

    def add(self, role: str, future: concurrent.futures.Future | None = None) -> None:
        self._names[role] = IMAGES[role]
        if future is not None:
            self._pending[role] = future

    def wait(self, timeout: float = IMPORT_TIMEOUT_S) -> None:
        """Wait for every import still running (raises what one raised)."""
        for future in self._pending.values():
            future.result(timeout)

    def __getitem__(self, role: str) -> str:
        name = self._names[role]
        if role in self._pending:
            self._pending[role].result(IMPORT_TIMEOUT_S)
        return name

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class RealNode:
    """containerd + kubelet joined to ``control_plane`` as node ``name``.

    Parameters:
        control_plane: a started :class:`ControlPlane`.
        name: the Node's name.
        node_dir: where build-node.sh put the kubelet and images.
        workdir: configs, state and logs (default: a temp dir, removed by :meth:`stop`
            unless ``keep_workdir``).
    """

    def __init__(
        self,
        control_plane: ControlPlane,
        name: str = NODE_NAME,
        *,
        node_dir: Path | None = None,
        workdir: Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        self.cp = control_plane
        self.name = name
        self.node_dir = Path(node_dir) if node_dir else default_node_dir()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.keep_workdir = keep_workdir
        self.slot: node_host.Slot | None = None
        #: role -> image name, for the images this node holds (``triton`` when built)
        self.images = NodeImages()
        self._importer: concurrent.futures.ThreadPoolExecutor | None = None
        self.kubelet_port = self.healthz_port = 0
        self.ready_seconds = 0.0
        #: seconds from start() to: containerd up (``containerd``), pause+busybox imported
        #: (``small_images``), kubelet started, node Ready (``ready``), and, once the
        #: background import is done, ``triton_image``
        self.timings: dict[str, float] = {}
        self._procs: dict[str, _Proc] = {}
        self._registered = False

    # ---- context manager
    def __enter__(self) -> Self:
        if self.slot is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what tests use
    @property
    def ip(self) -> str:
        """The node IP: the host's address on the node's bridge."""
        assert self.slot is not None, "node not started"
        return self.slot.host_ip

    @property
    def pod_subnet(self) -> str:
        assert self.slot is not None, "node not started"
        return self.slot.subnet

    @property
    def toleration(self) -> dict[str, str]:
        """What a pod needs to tolerate the node's taint."""
        return {"key": LABEL_KEY, "operator": "Equal", "value": "true", "effect": "NoSchedule"}

    @property
    def node_selector(self) -> dict[str, str]:
        return {LABEL_KEY: "true"}

    def place(self, pod_spec: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a pod spec (or a template's spec) with the toleration and selector."""
        spec = dict(pod_spec)
        spec["tolerations"] = [*spec.get("tolerations", []), self.toleration]
        spec["nodeSelector"] = {**spec.get("nodeSelector", {}), **self.node_selector}
        return spec

    def pod_ip_reachable(self, ip: str, port: int, timeout: float = 2.0) -> bool:
        """Whether a TCP connect from the host to a pod's ``ip:port`` succeeds."""
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                return True
        except OSError:
            return False

    def pids(self) -> dict[str, int]:
        """PIDs of containerd and the kubelet (while they run)."""
        return {n: p.pid for n, p in self._procs.items() if p.alive() and p.pid}

    def log_path(self, name: str) -> Path:
        """Log file of ``containerd`` or ``kubelet``."""
        assert self.workdir is not None
        return self.workdir / "logs" / f"{name}.log"

    # ---- lifecycle
    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        """Start containerd, import the images, start the kubelet; wait for Ready.

        Raises:
            NodeError: something is missing or did not come up (all of it is undone).
        """
        reason = missing_reason(self.node_dir)
        if reason:
            raise NodeError(reason)
        t0 = time.monotonic()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=node_host.WORKDIR_PREFIX))
        for sub in ("logs", "cni/net.d", "cni/ipam", "containerd", "kubelet/root", "varlog"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        try:
            self.slot = node_host.acquire_slot(self.workdir if self._own_workdir else None)
        except BaseException:
            if self._own_workdir and not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        try:
            node_host.create_bridge(self.slot)
            node_host.make_cgroup_root(self.slot.cgroup_root)
            node_host.make_cgroup_root(self.slot.shim_cgroup)
            self._write_cni_config()
            self._start_containerd()
            self.timings["containerd"] = time.monotonic() - t0
            for role in REQUIRED_IMAGES:
                self._import(role)
                self.images.add(role)
            self.timings["small_images"] = time.monotonic() - t0
            self._start_kubelet()
            self.timings["kubelet_started"] = time.monotonic() - t0
            self._import_in_background([r for r in IMAGES if r not in REQUIRED_IMAGES], t0)
            self._wait_ready(timeout)
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Delete the node's pods and the Node, stop the kubelet and containerd by PID,
        kill what is left in the node's cgroups, remove the bridge and the cgroups,
        restore the sysctls (when no other node runs) and remove the work dir."""
        slot = self.slot
        if slot is None:
            return
        left: list[str] = []
        try:
            if self._importer is not None:  # never stop containerd under a running import
                self._importer.shutdown(wait=True, cancel_futures=True)
                self._importer = None
            if self._registered:
                node_runtime.evict_pods(self)
            for name in ("kubelet", "containerd"):
                proc = self._procs.pop(name, None)
                if proc is not None:
                    proc.stop(timeout=10)
            node_runtime.kill_shims(self)
            left = node_host.remove_cgroup_root(slot.cgroup_root)
            node_host.delete_bridge(slot.bridge)
            if self._registered:
                with contextlib.suppress(Exception):  # the control plane may be gone already
                    self.cp.remove_node(self.name)
                self._registered = False
        finally:
            # whatever failed above, the next node start removes it as stale
            node_host.release_slot(slot)
            self.slot = None
            if self.workdir and self._own_workdir and not self.keep_workdir:
                node_host.remove_tree(self.workdir)
        if left:
            raise NodeError(f"cgroups left behind: {left}")

    # ---- pieces
    def _write_cni_config(self) -> None:
        assert self.slot is not None and self.workdir is not None
        conf = node_runtime.cni_conflist(self.slot, self.workdir / "cni" / "ipam")
        final = self.workdir / "cni" / "net.d" / "10-mlops-tui.conflist"
        tmp = final.with_suffix(".tmp")
        tmp.write_text(json.dumps(conf, indent=2))
        tmp.rename(final)  # containerd never reads it half-written

    @property
    def containerd_socket(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "containerd" / "containerd.sock"

    def _start_containerd(self) -> None:
        assert self.workdir is not None
        config = self.workdir / "containerd" / "config.toml"
        assert self.slot is not None
        config.write_text(
            node_runtime.containerd_config(self.workdir, IMAGES["pause"], self.slot.shim_cgroup)
        )
        argv = node_runtime.containerd_argv(self.workdir / "varlog", config)
        self._launch("containerd", argv, self._env())
        self._wait("containerd", lambda: self._ctr("version").returncode == 0, 30)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
        env.pop("KUBECONFIG", None)
        env.update(
            AWS_EC2_METADATA_DISABLED="true",  # kubelet's AWS code would dial the metadata IP
            HTTP_PROXY=DEAD_PROXY,
            HTTPS_PROXY=DEAD_PROXY,
            NO_PROXY="127.0.0.1,localhost",
        )
        return env

    def _ctr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _import(self, role: str) -> None:
        """``ctr images import`` the role's archive; check the image is listed."""
        archive = image_archive(role, self.node_dir)
        if archive is None:
            raise NodeError(f"no {role} image archive in {self.node_dir / 'images'}")
        res = self._ctr("images", "import", str(archive), timeout=IMPORT_TIMEOUT_S)
        if res.returncode:
            raise NodeError(f"ctr images import {archive} failed: {res.stderr.strip()}")
        if IMAGES[role] not in self._ctr("images", "ls", "-q").stdout.split():
            raise NodeError(f"{IMAGES[role]} not in containerd after importing {archive}")

    def _import_in_background(self, roles: Sequence[str], t0: float) -> None:
        """Import the large images (when built) while the kubelet comes up and tests run."""
        roles = [r for r in roles if image_archive(r, self.node_dir) is not None]
        if not roles:
            return
        self._importer = concurrent.futures.ThreadPoolExecutor(1, "node-image-import")
        for role in roles:
            future = self._importer.submit(self._import, role)
            future.add_done_callback(
                lambda _f, r=role: self.timings.__setitem__(f"{r}_image", time.monotonic() - t0)
            )
            self.images.add(role, future)

    def _start_kubelet(self) -> None:
        assert self.workdir is not None and self.slot is not None
        kdir = self.workdir / "kubelet"
        crt, key = self.cp.issue_client_cert(
            f"node-{self.name}", f"system:node:{self.name}", orgs=["system:nodes"]
        )
        kubeconfig = self.cp.write_kubeconfig(
            kdir / "kubeconfig", f"system:node:{self.name}", cert=(crt, key)
        )
        resolv = kdir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")
        self.kubelet_port, self.healthz_port = free_port(), free_port()
        config = kdir / "config.yaml"
        config.write_text(json.dumps(node_runtime.kubelet_config(self, resolv), indent=2))
        kubelet = find_kubelet(self.node_dir)
        assert kubelet is not None
        argv = node_runtime.kubelet_argv(
            self, kubelet, self._procs["containerd"].pid, config, kubeconfig
        )
        self._launch("kubelet", argv, self._env())
        self._registered = True

    def _wait_ready(self, timeout: float) -> None:
        core = self.cp.core_v1()

        def ready() -> bool:
            node = core.read_node(self.name)
            return any(
                c.type == "Ready" and c.status == "True" for c in node.status.conditions or []
            )

        self._wait("kubelet", ready, timeout)

    # ---- processes
    def _launch(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        proc = _Proc(name, argv, self.log_path(name), env)
        proc.start()
        self._procs[name] = proc

    def _wait(self, name: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            for pname, proc in self._procs.items():
                if not proc.alive():
                    raise NodeError(
                        f"{pname} exited before the node was ready; log "
                        f"{self.log_path(pname)}:\n{_tail(self.log_path(pname))}"
                    )
            try:
                if check():
                    return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            if time.monotonic() > deadline:
                raise NodeError(
                    f"{name} not ready after {timeout:.0f}s (last error: {last!r}); log "
                    f"{self.log_path(name)}:\n{_tail(self.log_path(name))}"
                )
            time.sleep(0.2)
