"""A real HTTP server on 127.0.0.1 that is not a Kubernetes API server.

What a kubeconfig can point at by mistake: a web server, a proxy's error page, some other
JSON API. It answers 200 with whatever body a test sets per path (a default for the rest)
and records every request line, so a test can also show that nothing was sent at all.
It is a real server producing odd answers, not a mock of the client.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import yaml

HTML = (b"<!doctype html><html><head><title>Welcome to nginx!</title></head>"
        b"<body>It works</body></html>")


class OddServer:
    def __init__(self, default: bytes = HTML, content_type: str = "text/html") -> None:
        self.default = default
        self.content_type = content_type
        self.bodies: dict[str, bytes] = {}  # path -> body (JSON content type)
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                body = server.bodies.get(path, server.default)
                kind = "application/json" if path in server.bodies else server.content_type
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="odd-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def kubeconfig(self, path: Path, context: str = "odd", token: str = "odd-token-123") -> Path:
        """A kubeconfig whose only context points here."""
        path.write_text(yaml.safe_dump(config_for(self.url, context, token)))
        return path


def config_for(url: str, context: str, token: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
