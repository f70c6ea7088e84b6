"""A real HTTP server on 127.0.0.1 that answers every GET with one canned response: what a
wrong URL gives in real life (a web page, another service's JSON, a proxy's error page).

    with CannedServer(200, "<html>…</html>", "text/html") as server:
        ...  # server.url, server.requests
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class CannedServer:
    """Answers ``status`` with ``body`` (after ``delay`` seconds) on a free loopback port."""

    def __init__(self, status: int, body: str | bytes, content_type: str = "application/json",
                 delay: float = 0.0) -> None:
        payload = body.encode() if isinstance(body, str) else body
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests += 1
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
