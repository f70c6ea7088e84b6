"""TLS and basic auth against a real Prometheus (its --web.config.file): verification on by
default, a CA file to trust, a refused password as a clear 401 without the password."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import subprocess
import time
from pathlib import Path

import bcrypt
import certifi
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mlops_tui.backends.errors import ConnectionFailed, Unauthorized
from mlops_tui.backends.metrics_models import Screen, Window
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import PrometheusSource
from tests.servers.fixtures import require_servers
from tests.servers.prometheus import find_prometheus

PASSWORD = "s3cret-pass-789"


def _cert(tmp: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prometheus")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.crt", tmp / "tls.crt", tmp / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def secured_prometheus(tmp_path: Path):
    require_servers("prometheus")  # a skip here, a failure with MLOPS_TUI_REQUIRE_SERVERS=1
    binaries = find_prometheus()
    ca, crt, key = _cert(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(json.dumps({"tls_server_config": {"cert_file": str(crt), "key_file": str(key)},
                               "basic_auth_users": {"grafana": hashed}}))
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": []}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(binaries[0]), f"--config.file={config}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             f"--web.config.file={web}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/-/ready", verify=str(ca), auth=("grafana", PASSWORD),
                                timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            pytest.fail("secured prometheus never got ready: "
                        + (tmp_path / "prometheus.log").read_text()[-2000:])
        yield url, ca
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _snapshot(url: str, **settings):
    source = PrometheusSource(url, MetricsSettings(**settings))
    try:
        return asyncio.run(source.snapshot(Screen.GPU, Window.M5))
    finally:
        asyncio.run(source.close())


def _server_time(url: str, **settings) -> float:
    """``time()`` evaluated by the server: only a live, authenticated answer has it."""
    source = PrometheusSource(url, MetricsSettings(**settings))
    try:
        (now,) = asyncio.run(source.instant("time()"))
        return now.value
    finally:
        asyncio.run(source.close())


def test_tls_is_verified_by_default(secured_prometheus):
    url, _ = secured_prometheus
    with pytest.raises(ConnectionFailed, match="TLS failed") as err:
        _snapshot(url, username="grafana", password=PASSWORD)
    assert PASSWORD not in str(err.value)


def test_a_refused_password_is_a_clear_401(secured_prometheus):
    url, ca = secured_prometheus
    with pytest.raises(Unauthorized, match=r"refused the credentials \(401\)") as err:
        _snapshot(url, username="grafana", password="wrong-password", ca_file=str(ca))
    assert "wrong-password" not in str(err.value)


def test_ca_file_and_basic_auth(secured_prometheus, monkeypatch):
    url, ca = secured_prometheus
    # a system-wide bundle in the environment (common in containers and CI) must not
    # replace the CA file the user named
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    assert abs(_server_time(url, username="grafana", password=PASSWORD, ca_file=str(ca))
               - time.time()) < 60
    assert abs(_server_time(url, username="grafana", password=PASSWORD, verify=False)
               - time.time()) < 60
    # a whole refresh through TLS and basic auth: every query answered (no errors); the
    # server scrapes nothing, so "no series" is the truth here
    snap = _snapshot(url, username="grafana", password=PASSWORD, ca_file=str(ca))
    assert snap.errors == () and snap.queries == 10
    assert snap.notes == ("no DCGM exporter series (DCGM_FI_DEV_*) found",)
