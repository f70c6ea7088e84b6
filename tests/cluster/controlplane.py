"""A real Kubernetes v1.20.2 control plane on 127.0.0.1 for tests.

etcd (Debian's etcd-server 3.4) + kube-apiserver, and optionally kube-scheduler and
kube-controller-manager, built from Debian bookworm's ``kubernetes`` source package by
``tests/cluster/build-control-plane.sh``. There is no kubelet: nodes are Node objects with
a status, kept Ready by :class:`NodeHeartbeat` renewing their Lease.

Every process is started by this module with its own log file and stopped by its PID.

Typical use::

    with ControlPlane() as cp:          # or cp = ControlPlane(); cp.start(); ...; cp.stop()
        cp.add_node("gpu-1", gpus=1)
        api = cp.admin_client()         # kubernetes.client.ApiClient
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime as _dt
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

K8S_VERSION = "1.20.2"
COMPONENTS = ("kube-apiserver", "kube-scheduler", "kube-controller-manager")
_SETPRIV = shutil.which("setpriv")
BUILD_SCRIPT = Path(__file__).resolve().parent / "build-control-plane.sh"

#: The user of the limited token kubeconfig, and the only namespace it may read pods in.
LIMITED_USER = "limited"
LIMITED_NAMESPACE = "team-a"

ADMIN_CONTEXT = "admin@test"
LIMITED_CONTEXT = "limited@test"
CLUSTER_NAME = "test"

SERVICE_CIDR = "10.96.0.0/12"
SERVICE_IP = "10.96.0.1"
#: TEST-NET-1 address, never routed; loopback is refused for the `kubernetes` Endpoints.
ADVERTISE_ADDRESS = "192.0.2.1"

READY_TIMEOUT_S = 60.0

#: A fake node's InternalIP. With ``--kubelet-preferred-address-types=InternalIP`` the API
#: server dials a node's kubelet there for logs, exec and port-forward: on loopback a fake
#: node's closed kubelet port refuses at once, where a never-routed TEST-NET address would
#: send the connection out by the default route.
FAKE_NODE_IP = "127.0.0.1"


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (message includes the log tail)."""


# --------------------------------------------------------------------------- binaries


def default_bin_dir() -> Path:
    """Where build-control-plane.sh puts the binaries (``$MLOPS_TUI_K8S_BIN`` or the cache)."""
    env = os.environ.get("MLOPS_TUI_K8S_BIN")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlops-tui" / f"kube-v{K8S_VERSION}"


def _has_all(d: Path) -> bool:
    return all(os.access(d / c, os.X_OK) and (d / c).is_file() for c in COMPONENTS)


def find_etcd() -> Path | None:
    """etcd from ``$KUBEBUILDER_ASSETS``, ``PATH`` or ``/usr/bin/etcd``."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and os.access(Path(assets) / "etcd", os.X_OK):
        return Path(assets) / "etcd"
    found = shutil.which("etcd")
    if found:
        return Path(found)
    if os.access("/usr/bin/etcd", os.X_OK):
        return Path("/usr/bin/etcd")
    return None


def _candidate_dirs() -> list[Path]:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    return ([Path(assets)] if assets else []) + [default_bin_dir()]


def find_binaries() -> Path | None:
    """The directory holding kube-apiserver, kube-scheduler and kube-controller-manager.

    ``$KUBEBUILDER_ASSETS`` first (only if it holds all three), then the build script's
    output dir. ``None`` when neither holds all three, or when no etcd can be found.
    """
    if find_etcd() is None:
        return None
    return next((d for d in _candidate_dirs() if _has_all(d)), None)


def missing_reason() -> str:
    """A human-readable reason why :func:`find_binaries` returned None."""
    parts = []
    if find_etcd() is None:
        parts.append("no etcd binary (apt-get install -y etcd-server)")
    if not any(_has_all(d) for d in _candidate_dirs()):
        parts.append(
            f"no kube-apiserver/kube-scheduler/kube-controller-manager v{K8S_VERSION} in "
            f"$KUBEBUILDER_ASSETS or {default_bin_dir()} (build them, ~7-10 min on 2 cores: "
            f"bash {BUILD_SCRIPT.relative_to(BUILD_SCRIPT.parents[2])})"
        )
    return "; ".join(parts) or "binaries present"


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def rfc3339(t: _dt.datetime | None = None) -> str:
    """metav1.Time format (seconds)."""
    return (t or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(t: _dt.datetime | None = None) -> str:
    """metav1.MicroTime format (always six fractional digits), e.g. a Lease's renewTime."""
    return (t or _now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _Pki:
    """Certificates and keys for one control plane, generated with `cryptography`."""

    def __init__(self, d: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self._x509, self._hashes, self._ser = x509, hashes, serialization
        self._ec, self._eku, self._name = ec, ExtendedKeyUsageOID, NameOID
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)

        self.ca_cert, self.ca_key = self._ca("test-kubernetes-ca")
        self.ca_crt_path = self._write_cert("ca.crt", self.ca_cert)
        self._write_key("ca.key", self.ca_key)
        self.front_ca_cert, self.front_ca_key = self._ca("test-front-proxy-ca")
        self.front_ca_crt_path = self._write_cert("front-proxy-ca.crt", self.front_ca_cert)

        sans = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
        ]
        self.serving = self.issue("apiserver", "kube-apiserver", server=True, sans=sans)
        self.front_client = self.issue(
            "front-proxy-client", "front-proxy-client", ca=(self.front_ca_cert, self.front_ca_key)
        )
        self.admin = self.issue("admin", "admin", orgs=["system:masters"])
        self.scheduler = self.issue("scheduler", "system:kube-scheduler")
        self.controller_manager = self.issue("controller-manager", "system:kube-controller-manager")
        # the API server's client cert for kubelets (logs, exec, port-forward on a real node)
        self.kubelet_client = self.issue(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", orgs=["system:masters"]
        )

        # Service-account signing key pair (RSA, as kubeadm makes it).
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key_path = self._write_key("sa.key", sa)
        self.sa_pub_path = d / "sa.pub"
        self.sa_pub_path.write_bytes(
            sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _ca(self, cn: str):
        x509, name = self._x509, self._name
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(name.COMMON_NAME, cn)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, self._hashes.SHA256())
        )
        return cert, key

    def issue(
        self,
        stem: str,
        cn: str,
        *,
        orgs: Iterable[str] = (),
        server: bool = False,
        sans: list | None = None,
        ca=None,
    ) -> tuple[Path, Path]:
        """Issue a leaf cert; returns (cert_path, key_path)."""
        x509, name = self._x509, self._name
        ca_cert, ca_key = ca or (self.ca_cert, self.ca_key)
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        attrs = [x509.NameAttribute(name.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(name.COMMON_NAME, cn))
        now = _now()
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [self._eku.SERVER_AUTH] if server else [self._eku.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = b.sign(ca_key, self._hashes.SHA256())
        return self._write_cert(f"{stem}.crt", cert), self._write_key(f"{stem}.key", key)

    def _write_cert(self, fname: str, cert) -> Path:
        p = self.dir / fname
        p.write_bytes(cert.public_bytes(self._ser.Encoding.PEM))
        return p

    def _write_key(self, fname: str, key) -> Path:
        p = self.dir / fname
        p.write_bytes(
            key.private_bytes(
                self._ser.Encoding.PEM,
                self._ser.PrivateFormat.TraditionalOpenSSL,
                self._ser.NoEncryption(),
            )
        )
        p.chmod(0o600)
        return p


class _Proc:
    """One child process with its own log file, stopped by PID."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str] | None = None):
        self.name, self.argv, self.log, self.env = name, argv, log, env
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        argv = list(self.argv)
        if _SETPRIV and threading.current_thread() is threading.main_thread():
            # PR_SET_PDEATHSIG: no orphans if the test process is killed. setpriv execs
            # the binary, so the PID stays the component's own.
            argv = [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]
        with open(self.log, "ab") as fh:
            fh.write(f"\n===== {self.name} started {rfc3339()}: {' '.join(self.argv)}\n".encode())
            fh.flush()
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,
                close_fds=True,
            )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        p = self.popen
        if p is None:
            return
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            except ProcessLookupError:
                pass
        self.popen = None


# --------------------------------------------------------------------------- control plane


class ControlPlane:
    """etcd + kube-apiserver (+ kube-scheduler + kube-controller-manager) on 127.0.0.1.

    Parameters:
        bin_dir: directory with the kube-* binaries (default: :func:`find_binaries`).
        workdir: where certs, kubeconfigs, etcd data and logs go (default: a new temp dir,
            removed by :meth:`stop` unless ``keep_workdir``).
        watch_cache: kube-apiserver ``--watch-cache``. True (the default, as in production):
            watches and RV=0 lists are served from the apiserver's cache.
        extra_apiserver_args: appended to the kube-apiserver command line.
    """

    def __init__(
        self,
        bin_dir: Path | None = None,
        workdir: Path | None = None,
        *,
        watch_cache: bool = True,
        keep_workdir: bool = False,
        extra_apiserver_args: Iterable[str] = (),
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir else find_binaries()
        self.etcd_bin = find_etcd()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.keep_workdir = keep_workdir
        self.watch_cache = watch_cache
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.with_controllers = False
        self.etcd_port = self.etcd_peer_port = self.port = 0
        self.limited_token = ""
        self.admin_token = ""
        self._procs: dict[str, _Proc] = {}
        self._apiserver_argv: list[str] = []
        self.heartbeat: NodeHeartbeat | None = None
        self._admin_client = None
        self._started = False

    # ---- context manager
    def __enter__(self) -> Self:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- properties
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def ca_file(self) -> Path:
        return self._pki.ca_crt_path

    @property
    def admin_kubeconfig(self) -> Path:
        """Client-cert user ``admin`` (group system:masters), context ``admin@test``."""
        return self.workdir / "admin.kubeconfig"

    @property
    def kubeconfig(self) -> Path:
        """Both contexts (``admin@test`` current, ``limited@test``) in one file."""
        return self.workdir / "kubeconfig"

    @property
    def limited_kubeconfig(self) -> Path:
        """Token user ``limited``: get/list/watch pods in ``team-a`` only. Context ``limited@test``."""
        return self.workdir / "limited.kubeconfig"

    def issue_client_cert(
        self, stem: str, cn: str, orgs: Iterable[str] = ()
    ) -> tuple[Path, Path]:
        """A client cert signed by the cluster CA, e.g. a kubelet's
        (``CN=system:node:NAME``, ``O=system:nodes``); returns (cert_path, key_path)."""
        return self._pki.issue(stem, cn, orgs=orgs)

    def log_path(self, name: str) -> Path:
        """Log file of a component: etcd, kube-apiserver, kube-scheduler, kube-controller-manager."""
        return self.workdir / "logs" / f"{name}.log"

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self._procs.items() if p.alive()}

    # ---- lifecycle
    def start(self, with_controllers: bool = False) -> ControlPlane:
        """Start etcd and kube-apiserver (and scheduler + controller-manager when asked).

        Blocks until ``/readyz`` answers ok (at most 60 s), then sets up RBAC for the
        ``limited`` user and the ``team-a`` namespace. Raises :class:`ControlPlaneError`
        with the log tail on failure (everything started is stopped again).
        """
        if self._started:
            raise ControlPlaneError("already started")
        if self.bin_dir is None or not _has_all(self.bin_dir):
            raise ControlPlaneError(missing_reason())
        if self.etcd_bin is None:
            raise ControlPlaneError("no etcd binary (apt-get install -y etcd-server)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="mlops-tui-k8s-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self._started = True
        try:
            self._pki = _Pki(self.workdir / "pki")
            self._write_auth_files()
            self.etcd_port, self.etcd_peer_port, self.port = free_port(), free_port(), free_port()
            self.with_controllers = with_controllers
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfigs()
            self._bootstrap_objects()
            if with_controllers:
                self._launch_controllers()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the heartbeat thread and every process (by PID), newest first."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        for name in reversed(list(self._procs)):
            self._procs[name].stop()
        self._procs.clear()
        if self._admin_client is not None:
            with contextlib.suppress(Exception):
                self._admin_client.close()
            self._admin_client = None
        if self._started and self._own_workdir and not self.keep_workdir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._started = False

    def _write_auth_files(self) -> None:
        self.admin_token = secrets.token_hex(16)
        self.limited_token = secrets.token_hex(16)
        # token,user,uid[,"group1,group2"]
        (self.workdir / "tokens.csv").write_text(
            f'{self.admin_token},admin-token,admin-token-uid,"system:masters"\n'
            f"{self.limited_token},{LIMITED_USER},{LIMITED_USER}-uid\n"
        )

    def _start_etcd(self) -> None:
        data = self.workdir / "etcd"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        argv = [
            str(self.etcd_bin),
            "--name=test",
            f"--data-dir={data}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--initial-cluster-state=new",
            "--initial-cluster-token=mlops-tui-test",
            "--logger=zap",
            "--log-outputs=stderr",
            "--log-level=warn",
            "--quota-backend-bytes=1073741824",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        self._launch("etcd", argv, env)
        self._wait(
            "etcd",
            lambda: (
                json.loads(self._http(f"{self.etcd_url}/health")).get("health") in ("true", True)
            ),
        )

    def _apiserver_args(self) -> list[str]:
        pki, wd = self._pki, self.workdir
        args = [
            str(self.bin_dir / "kube-apiserver"),
            "--bind-address=127.0.0.1",
            f"--secure-port={self.port}",
            "--insecure-port=0",
            f"--advertise-address={ADVERTISE_ADDRESS}",
            f"--etcd-servers={self.etcd_url}",
            f"--cert-dir={wd / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving[0]}",
            f"--tls-private-key-file={pki.serving[1]}",
            f"--client-ca-file={pki.ca_crt_path}",
            f"--token-auth-file={wd / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-signing-key-file={pki.sa_key_path}",
            f"--service-account-key-file={pki.sa_pub_path}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            # aggregation layer / front proxy, as kubeadm sets it up
            f"--requestheader-client-ca-file={pki.front_ca_crt_path}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.front_client[0]}",
            f"--proxy-client-key-file={pki.front_client[1]}",
            f"--kubelet-client-certificate={pki.kubelet_client[0]}",
            f"--kubelet-client-key={pki.kubelet_client[1]}",
            # kubelets by their node's InternalIP: a node name would be looked up in DNS
            "--kubelet-preferred-address-types=InternalIP",
            "--enable-aggregator-routing=false",
            f"--watch-cache={'true' if self.watch_cache else 'false'}",
            "--profiling=false",
            "--v=1",
        ]
        if not self.with_controllers:
            # Without the controller-manager nothing creates the `default` ServiceAccount
            # and its token Secret, and the ServiceAccount admission plugin would refuse
            # every pod. start_controllers() restarts the apiserver with it enabled.
            args.append("--disable-admission-plugins=ServiceAccount")
        return args + self.extra_apiserver_args

    def _start_apiserver(self) -> None:
        self._apiserver_argv = self._apiserver_args()
        self._launch("kube-apiserver", self._apiserver_argv)
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll ``/readyz`` until it says ok."""
        self._wait("kube-apiserver", lambda: self._http(f"{self.url}/readyz") == "ok", timeout)

    def restart_apiserver(self, *, down_for: float = 0.0, grace: float = 2.0) -> None:
        """Stop kube-apiserver (by PID) and start it again on the same port; wait for ready.

        SIGTERM first; after ``grace`` seconds SIGKILL (a terminating 1.20 apiserver keeps
        open watches until they time out, ~10 s or more). ``down_for`` seconds pass
        between stop and start (clients see connection refused meanwhile).
        """
        self.stop_apiserver(grace=grace)
        if down_for:
            time.sleep(down_for)
        self.start_apiserver()

    def stop_apiserver(self, *, grace: float = 2.0) -> None:
        """Stop only kube-apiserver (clients get connection refused); see :meth:`start_apiserver`."""
        self._procs["kube-apiserver"].stop(timeout=grace)

    def start_apiserver(self) -> None:
        """Start kube-apiserver again after :meth:`stop_apiserver`; wait for ready."""
        if not self._procs["kube-apiserver"].alive():
            self._launch("kube-apiserver", self._apiserver_argv)
        self.wait_ready()

    def start_controllers(self) -> None:
        """Start kube-scheduler and kube-controller-manager (idempotent)."""
        if "kube-controller-manager" in self._procs:
            return
        if not self.with_controllers:
            # ServiceAccount admission back on, as in a real cluster.
            self.with_controllers = True
            self._apiserver_argv = self._apiserver_args()
            self.restart_apiserver()
        self._launch_controllers()

    def _launch_controllers(self) -> None:
        wd, pki = self.workdir, self._pki
        sched_kc = wd / "scheduler.kubeconfig"
        cm_kc = wd / "controller-manager.kubeconfig"
        self.write_kubeconfig(sched_kc, cert=pki.scheduler, user="system:kube-scheduler")
        self.write_kubeconfig(
            cm_kc, cert=pki.controller_manager, user="system:kube-controller-manager"
        )
        self._launch(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                f"--kubeconfig={sched_kc}",
                f"--authentication-kubeconfig={sched_kc}",
                f"--authorization-kubeconfig={sched_kc}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--port=0",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._launch(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={cm_kc}",
                f"--authentication-kubeconfig={cm_kc}",
                f"--authorization-kubeconfig={cm_kc}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--port=0",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki.sa_key_path}",
                f"--root-ca-file={pki.ca_crt_path}",
                f"--cluster-signing-cert-file={pki.ca_crt_path}",
                f"--cluster-signing-key-file={pki.dir / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,bootstrapsigner,tokencleaner",
                "--v=1",
            ],
        )
        # Ready enough when the token controller has given `default` SA a token secret.
        core = self.core_v1()

        def sa_ready() -> bool:
            for p in ("kube-scheduler", "kube-controller-manager"):
                if not self._procs[p].alive():
                    raise ControlPlaneError(f"{p} exited:\n{_tail(self.log_path(p))}")
            sa = core.read_namespaced_service_account("default", "default")
            return bool(sa.secrets)

        self._wait("kube-controller-manager", sa_ready, READY_TIMEOUT_S)

    def wait_until(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        """Poll ``predicate()`` (exceptions count as False) until true; ControlPlaneError on timeout."""
        self._wait(what, predicate, timeout)

    def create_namespace(
        self, name: str, labels: Mapping[str, str] | None = None, wait_service_account: bool = True
    ) -> str:
        """Create a namespace; with controllers, wait until its `default` SA has a token."""
        from kubernetes import client

        core = client.CoreV1Api(self.admin_client())
        core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
        if wait_service_account and "kube-controller-manager" in self._procs:
            self.wait_until(
                lambda: bool(core.read_namespaced_service_account("default", name).secrets),
                30,
                f"default ServiceAccount token in {name}",
            )
        return name

    def delete_namespace(self, name: str) -> None:
        """Force-delete the namespace's pods (no kubelet confirms), then the namespace."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        core = client.CoreV1Api(self.admin_client())
        try:
            core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
            core.delete_namespace(name)
        except ApiException as e:
            if e.status != 404:
                raise

    # ---- processes
    def _launch(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        proc = _Proc(name, argv, self.log_path(name), env)
        proc.start()
        self._procs[name] = proc

    def _wait(self, name: str, check, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll ``check()`` every 0.2 s; ``name`` is a process (its exit fails fast and its
        log tail goes into the error) or just a description."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            proc = self._procs.get(name)
            if proc is not None and not proc.alive():
                code = proc.popen.returncode if proc.popen else None
                raise ControlPlaneError(
                    f"{name} exited (code {code}) before it was ready; log "
                    f"{self.log_path(name)}:\n{_tail(self.log_path(name))}"
                )
            try:
                if check():
                    return
            except ControlPlaneError:
                raise
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            if time.monotonic() > deadline:
                msg = f"{name} not ready after {timeout:.0f}s (last error: {last!r})"
                if proc is not None:
                    msg += f"; log {self.log_path(name)}:\n{_tail(self.log_path(name))}"
                raise ControlPlaneError(msg)
            time.sleep(0.2)

    def _ssl_context(self, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self._pki.ca_crt_path))
        if cert is None:
            cert = self._pki.admin
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        return ctx

    def _http(self, url: str, data: bytes | None = None, timeout: float = 5.0) -> str:
        ctx = self._ssl_context() if url.startswith("https:") else None
        req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.read().decode()

    def open(self, path: str, *, token: str | None = None, timeout: float = 10.0):
        """Raw GET on the apiserver, as admin (client cert) or with a bearer token.

        Returns the open ``http.client.HTTPResponse`` (use as a context manager; for a
        watch, ``readline()`` gives one event per line). HTTP errors raise
        ``urllib.error.HTTPError`` (its ``.code``, ``.read()``).
        """
        ctx = ssl.create_default_context(cafile=str(self._pki.ca_crt_path))
        if token is None:
            ctx.load_cert_chain(str(self._pki.admin[0]), str(self._pki.admin[1]))
        req = urllib.request.Request(self.url + path)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        return urllib.request.urlopen(req, timeout=timeout, context=ctx)

    def get(self, path: str, *, token: str | None = None) -> tuple[int, str]:
        """Raw GET on the apiserver as admin or with a bearer token: (status, body)."""
        try:
            with self.open(path, token=token) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def watch_first_event(
        self, path: str, *, token: str | None = None, timeout_s: int = 5
    ) -> tuple[int, dict | None]:
        """Start a watch on ``path`` and return (HTTP status, first event or Status body).

        The event is None when nothing arrives within ``timeout_s`` (the server ends the
        watch then). A too-old resourceVersion gives ``(200, {"type": "ERROR", "object":
        {"kind": "Status", "code": 410, ...}})``.
        """
        sep = "&" if "?" in path else "?"
        try:
            with self.open(
                f"{path}{sep}watch=1&timeoutSeconds={timeout_s}", token=token, timeout=timeout_s + 5
            ) as r:
                line = r.readline().decode().strip()
                return r.status, (json.loads(line) if line else None)
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            return e.code, (json.loads(body) if body.startswith("{") else None)

    # ---- kubeconfigs
    def _user_entry(
        self, user: str, cert: tuple[Path, Path] | None, token: str | None
    ) -> dict[str, Any]:
        if cert is None and token is None:
            if user == "admin":
                cert = self._pki.admin
            elif user == LIMITED_USER:
                token = self.limited_token
            else:
                raise ValueError(f"unknown user {user!r}: pass cert= or token=")
        u: dict[str, Any] = {}
        if cert is not None:
            u["client-certificate-data"] = _b64(Path(cert[0]).read_bytes())
            u["client-key-data"] = _b64(Path(cert[1]).read_bytes())
        if token is not None:
            u["token"] = token
        return {"name": user, "user": u}

    def _dump_kubeconfig(
        self, path: Path | str, users: list[dict], contexts: list[dict], current: str
    ) -> Path:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CLUSTER_NAME,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": _b64(self._pki.ca_crt_path.read_bytes()),
                    },
                }
            ],
            "users": users,
            "contexts": contexts,
            "current-context": current,
            "preferences": {},
        }
        try:
            import yaml

            text = yaml.safe_dump(cfg, sort_keys=False)
        except ImportError:  # JSON is valid YAML too
            text = json.dumps(cfg, indent=2) + "\n"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
        return path

    def write_kubeconfig(
        self,
        path: Path | str,
        user: str = "admin",
        *,
        cert: tuple[Path, Path] | None = None,
        token: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
    ) -> Path:
        """Write a self-contained kubeconfig (certs and token embedded) for one user.

        ``user="admin"`` (client cert, system:masters) or ``user="limited"`` (token), or any
        name with an explicit ``cert=(crt, key)`` or ``token=``. Context name defaults to
        ``<user>@test``; cluster name is ``test``.
        """
        context = context or f"{user}@{CLUSTER_NAME}"
        ctx: dict[str, Any] = {"cluster": CLUSTER_NAME, "user": user}
        if namespace:
            ctx["namespace"] = namespace
        return self._dump_kubeconfig(
            path,
            [self._user_entry(user, cert, token)],
            [{"name": context, "context": ctx}],
            context,
        )

    def write_combined_kubeconfig(self, path: Path | str, current: str = ADMIN_CONTEXT) -> Path:
        """One kubeconfig with both contexts, ``admin@test`` and ``limited@test``."""
        return self._dump_kubeconfig(
            path,
            [self._user_entry("admin", None, None), self._user_entry(LIMITED_USER, None, None)],
            [
                {"name": ADMIN_CONTEXT, "context": {"cluster": CLUSTER_NAME, "user": "admin"}},
                {
                    "name": LIMITED_CONTEXT,
                    "context": {
                        "cluster": CLUSTER_NAME,
                        "user": LIMITED_USER,
                        "namespace": LIMITED_NAMESPACE,
                    },
                },
            ],
            current,
        )

    def _write_kubeconfigs(self) -> None:
        self.write_kubeconfig(self.admin_kubeconfig, "admin", context=ADMIN_CONTEXT)
        self.write_kubeconfig(
            self.limited_kubeconfig,
            LIMITED_USER,
            context=LIMITED_CONTEXT,
            namespace=LIMITED_NAMESPACE,
        )
        self.write_combined_kubeconfig(self.kubeconfig)

    # ---- kubernetes python client
    def admin_client(self):
        """A shared ``kubernetes.client.ApiClient`` for the admin kubeconfig."""
        if self._admin_client is None:
            self._admin_client = self.new_client(self.admin_kubeconfig)
        return self._admin_client

    @staticmethod
    def new_client(kubeconfig: Path | str, context: str | None = None):
        """A new ``kubernetes.client.ApiClient`` for a kubeconfig (caller closes it)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig), context=context)

    def core_v1(self):
        from kubernetes import client

        return client.CoreV1Api(self.admin_client())

    def _bootstrap_objects(self) -> None:
        """Namespace team-a and RBAC: `limited` may get/list/watch pods in team-a only."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        api = self.admin_client()
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        # the apiserver creates its system namespaces shortly after /readyz
        system = {"default", "kube-system", "kube-public", "kube-node-lease"}
        self.wait_until(
            lambda: system <= {n.metadata.name for n in core.list_namespace().items},
            30,
            "system namespaces",
        )

        def create(fn, *args):
            try:
                fn(*args)
            except ApiException as e:
                if e.status != 409:
                    raise

        create(core.create_namespace, {"metadata": {"name": LIMITED_NAMESPACE}})
        create(
            rbac.create_cluster_role,
            {
                "metadata": {"name": "mlops-tui-test-pod-reader"},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
                ],
            },
        )
        create(
            rbac.create_namespaced_role_binding,
            LIMITED_NAMESPACE,
            {
                "metadata": {"name": "limited-pod-reader", "namespace": LIMITED_NAMESPACE},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "mlops-tui-test-pod-reader",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": LIMITED_USER}
                ],
            },
        )

    # ---- etcd
    def etcd_revision(self) -> int:
        """etcd's current revision (from a /v3/kv/range response header)."""
        body = json.dumps({"key": _b64(b"\0")}).encode()
        resp = json.loads(self._http(f"{self.etcd_url}/v3/kv/range", body))
        return int(resp["header"]["revision"])

    def compact_etcd(self) -> int:
        """Compact etcd to its current revision; returns that revision.

        Afterwards every request that reaches etcd with an older resourceVersion fails
        with 410 Gone: a watch on a kind without watch cache (``watch_cache=False``, or
        ``extra_apiserver_args=["--watch-cache-sizes=configmaps#0"]`` as the session
        fixture does), a paginated list's ``continue`` token, a list with
        ``resourceVersionMatch=Exact``. Watches on cached kinds are served from the
        apiserver's watch cache, which keeps its window after a compaction; they get 410
        only for versions older than that window, e.g. after :meth:`restart_apiserver`.
        """
        rev = self.etcd_revision()
        body = json.dumps({"revision": rev, "physical": True}).encode()
        self._http(f"{self.etcd_url}/v3/kv/compaction", body, timeout=30)
        return rev

    # ---- nodes
    def add_node(
        self,
        name: str,
        gpus: int = 0,
        labels: Mapping[str, str] | None = None,
        mig: Mapping[str, int] | None = None,
        *,
        cpu: str = "8",
        memory: str = "32Gi",
        pods: str = "110",
        taints: list[dict] | None = None,
        heartbeat: bool = True,
        internal_ip: str | None = None,
    ) -> dict:
        """Create a Ready Node (no kubelet) and keep it Ready with :class:`NodeHeartbeat`.

        ``gpus`` adds ``nvidia.com/gpu``; ``mig`` maps MIG profiles to counts, e.g.
        ``{"1g.5gb": 7}`` or ``{"nvidia.com/mig-1g.5gb": 7}``. Capacity = allocatable.
        ``heartbeat=False`` leaves the node without Lease renewals, like a dead kubelet:
        with the controller-manager running it turns Ready=Unknown and gets the
        ``node.kubernetes.io/unreachable`` taints after ~40-50 s. Returns the created
        Node as a dict (camelCase keys).
        """
        from kubernetes import client

        resources = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
        node_labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
        }
        if gpus:
            resources["nvidia.com/gpu"] = str(gpus)
            node_labels["nvidia.com/gpu.present"] = "true"
            node_labels["nvidia.com/gpu.count"] = str(gpus)
        for prof, count in (mig or {}).items():
            key = prof if "/" in prof else f"nvidia.com/mig-{prof}"
            resources[key] = str(count)
        node_labels.update(labels or {})
        now = rfc3339()
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": node_labels},
            "spec": {"taints": taints} if taints else {},
            "status": {
                "capacity": dict(resources),
                "allocatable": dict(resources),
                "conditions": _node_conditions(now, now),
                "addresses": [
                    {"type": "InternalIP", "address": internal_ip or FAKE_NODE_IP},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kubeletVersion": f"v{K8S_VERSION}",
                    "kubeProxyVersion": f"v{K8S_VERSION}",
                    "containerRuntimeVersion": "containerd://1.4.3",
                    "kernelVersion": "6.1.0",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "machineID": secrets.token_hex(16),
                    "systemUUID": secrets.token_hex(16),
                    "bootID": secrets.token_hex(16),
                },
            },
        }
        core = client.CoreV1Api(self.admin_client())
        created = core.create_node(body)
        if heartbeat:
            if self.heartbeat is None:
                self.heartbeat = NodeHeartbeat(self.admin_kubeconfig)
                self.heartbeat.start()
            self.heartbeat.add(name, created.metadata.uid)
        return self.admin_client().sanitize_for_serialization(created)

    def remove_node(self, name: str) -> None:
        """Stop heartbeating ``name`` and delete the Node and its Lease."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        if self.heartbeat is not None:
            self.heartbeat.discard(name)
        api = self.admin_client()
        for fn, args in (
            (client.CoreV1Api(api).delete_node, (name,)),
            (client.CoordinationV1Api(api).delete_namespaced_lease, (name, "kube-node-lease")),
        ):
            try:
                fn(*args)
            except ApiException as e:
                if e.status != 404:
                    raise


def _node_conditions(heartbeat: str, transition: str) -> list[dict]:
    conds = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return [
        {
            "type": t,
            "status": s,
            "reason": r,
            "message": m,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition,
        }
        for t, s, r, m in conds
    ]


class NodeHeartbeat:
    """Background thread that does what a kubelet's heartbeat does for fake nodes.

    Every ``lease_interval`` s it renews ``kube-node-lease/<node>`` (creating it if
    needed); every ``status_interval`` s it refreshes the Ready condition's
    ``lastHeartbeatTime`` (kubelets report status every 5 min when leases are on; the
    default here is 60 s). :meth:`stop` ends the thread cleanly.
    """

    def __init__(
        self,
        kubeconfig: Path | str,
        lease_interval: float = 10.0,
        status_interval: float = 60.0,
        lease_duration_s: int = 40,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.lease_interval = lease_interval
        self.status_interval = status_interval
        self.lease_duration_s = lease_duration_s
        self._nodes: dict[str, str] = {}  # name -> uid
        self._last_status: dict[str, float] = {}
        self._lock = threading.Lock()
        self._beat_lock = threading.Lock()  # the thread and add() never beat at once
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: recent errors (apiserver restarting, ...), newest last
        self.errors: collections.deque[str] = collections.deque(maxlen=100)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="node-heartbeat", daemon=True)
            self._thread.start()

    def add(self, name: str, uid: str | None = None) -> None:
        """Heartbeat ``name`` from now on; its Lease is created before this returns."""
        with self._lock:
            self._nodes[name] = uid or ""
            self._last_status[name] = time.monotonic()
        self.beat(only=name, raise_errors=True)

    def discard(self, name: str) -> None:
        with self._lock:
            self._nodes.pop(name, None)
            self._last_status.pop(name, None)

    @property
    def nodes(self) -> list[str]:
        with self._lock:
            return list(self._nodes)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def beat(self, only: str | None = None, *, raise_errors: bool = False) -> None:
        """Renew every lease now (and the status where due); also called by the thread.

        ``only`` limits it to one node; ``raise_errors`` re-raises instead of recording
        the error in :attr:`errors`.
        """
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        api = ControlPlane.new_client(self.kubeconfig)
        try:
            with self._beat_lock:
                coord, core = client.CoordinationV1Api(api), client.CoreV1Api(api)
                with self._lock:
                    nodes = dict(self._nodes)
                if only is not None:
                    nodes = {only: nodes[only]} if only in nodes else {}
                for name, uid in nodes.items():
                    try:
                        self._renew(coord, name, uid)
                        with self._lock:
                            last = self._last_status.get(name, 0.0)
                        if time.monotonic() - last >= self.status_interval:
                            self._status(core, name)
                            with self._lock:
                                if name in self._last_status:
                                    self._last_status[name] = time.monotonic()
                    except Exception as e:
                        if raise_errors:
                            raise
                        if (
                            isinstance(e, ApiException)
                            and e.status == 404
                            and self._node_gone(core, name)
                        ):
                            self.discard(name)  # node deleted behind our back
                        else:
                            self.errors.append(f"{name}: {e!r}")
        finally:
            api.close()

    @staticmethod
    def _node_gone(core, name: str) -> bool:
        from kubernetes.client.rest import ApiException

        try:
            core.read_node(name)
        except ApiException as e:
            return e.status == 404
        except Exception:  # noqa: BLE001 - apiserver down: keep trying
            return False
        return False

    def _renew(self, coord, name: str, uid: str) -> None:
        from kubernetes.client.rest import ApiException

        now = rfc3339_micro()
        patch = {
            "spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": self.lease_duration_s,
                "renewTime": now,
            }
        }
        try:
            coord.patch_namespaced_lease(name, "kube-node-lease", patch)
        except ApiException as e:
            if e.status != 404:
                raise
            meta: dict[str, Any] = {"name": name, "namespace": "kube-node-lease"}
            if uid:
                meta["ownerReferences"] = [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}
                ]
            self._create_lease(coord, meta, patch, now)

    def _create_lease(self, coord, meta: dict, patch: dict, now: str) -> None:
        from kubernetes.client.rest import ApiException

        name = meta["name"]
        try:
            coord.create_namespaced_lease(
                "kube-node-lease",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": meta,
                    "spec": {
                        "holderIdentity": name,
                        "leaseDurationSeconds": self.lease_duration_s,
                        "acquireTime": now,
                        "renewTime": now,
                    },
                },
            )
        except ApiException as e:
            if e.status != 409:
                raise
            coord.patch_namespaced_lease(name, "kube-node-lease", patch)  # created meanwhile

    def _status(self, core, name: str) -> None:
        node = core.read_node_status(name)
        now = rfc3339()
        conds = []
        for c in node.status.conditions or []:
            d = core.api_client.sanitize_for_serialization(c)
            d["lastHeartbeatTime"] = now
            conds.append(d)
        # conditions merge by `type` (strategic merge patch)
        core.patch_node_status(name, {"status": {"conditions": conds}})

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.beat()
            except Exception as e:  # noqa: BLE001 - keep beating
                self.errors.append(repr(e))
            self._wake.wait(self.lease_interval)
