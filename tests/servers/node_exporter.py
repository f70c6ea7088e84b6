"""Debian's prometheus-node-exporter on 127.0.0.1: this machine's real CPU and memory."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Self

from tests.cluster.controlplane import _Proc

BINARY = "prometheus-node-exporter"


def find_node_exporter() -> str | None:
    return shutil.which(BINARY) or (f"/usr/bin/{BINARY}"
                                    if Path(f"/usr/bin/{BINARY}").exists() else None)


class NodeExporter:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._dir = tempfile.TemporaryDirectory(prefix="node-exporter-")
        self._proc = _Proc("node-exporter", [
            find_node_exporter() or BINARY, f"--web.listen-address=127.0.0.1:{self.port}",
            # the collectors the panels read; the rest only slow each scrape
            "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
        ], Path(self._dir.name) / "node-exporter.log")

    def start(self) -> Self:
        self._proc.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("node exporter never answered: "
                           + (Path(self._dir.name) / "node-exporter.log").read_text()[-1000:])

    def stop(self) -> None:
        self._proc.stop()
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
