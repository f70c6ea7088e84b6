"""A stand-in kubelet that serves only ``/containerLogs`` over HTTPS on 127.0.0.1.

No kubelet can run here, and the API server proxies ``pods/log`` to the pod's node: this
is the one synthetic piece behind the log tests, so the client, the real API server and
its proxying are all exercised. It records each request so tests can check the query
(container, follow, previous, tailLines) that reached it.
"""

from __future__ import annotations

import datetime as dt
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kubelet")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    crt, pem = directory / "kubelet.crt", directory / "kubelet.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


class FakeKubelet:
    """``lines``: what every container logs; with follow, ``follow_lines`` more, one each
    ``interval`` seconds (bounded), then the stream ends."""

    def __init__(self, lines: list[str], follow_lines: int = 50, interval: float = 0.05):
        self.lines = lines
        self.follow_lines = follow_lines
        self.interval = interval
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.disconnects = 0
        self._dir = tempfile.TemporaryDirectory(prefix="fake-kubelet-")
        crt, key = _self_signed(Path(self._dir.name))
        kubelet = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                query = parse_qs(url.query)
                kubelet.requests.append((url.path, query))
                if not url.path.startswith("/containerLogs/"):
                    self.send_error(404)
                    return
                lines = list(kubelet.lines)
                if "tailLines" in query:
                    lines = lines[-int(query["tailLines"][0]):]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                try:
                    for line in lines:
                        self.wfile.write(line.encode() + b"\n")
                    self.wfile.flush()
                    if query.get("follow") == ["true"]:
                        for i in range(kubelet.follow_lines):
                            time.sleep(kubelet.interval)
                            self.wfile.write(f"follow {i}\n".encode())
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    kubelet.disconnects += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()
