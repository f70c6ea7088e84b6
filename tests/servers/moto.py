"""A real moto server (AWS APIs) on 127.0.0.1 for tests.

moto keeps its state per process, not per server: two ThreadedMotoServers in one pytest
process see the same buckets. :func:`moto_server` therefore resets that state when it
starts and when it stops, so a module's fixture never sees another module's objects.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.request
from collections.abc import Iterator


def _reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"),
                           timeout=10).close()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start moto on a free port of 127.0.0.1 with empty state; yields its URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _reset(url)
        yield url
    finally:
        with contextlib.suppress(OSError):
            _reset(url)
        server.stop()
