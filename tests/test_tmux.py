"""The real ``mlops-tui`` binary in a real terminal (tmux): type, read the screen, quit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """A private tmux server (its own socket), so nothing else is touched."""

    def __init__(self, tmp_path: Path) -> None:
        self.socket = str(tmp_path / "tmux.sock")

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_demo_in_a_real_terminal(tmp_path):
    tmux = Tmux(tmp_path)
    binary = Path(sys.executable).with_name("mlops-tui")
    env = f"XDG_STATE_HOME={tmp_path} TERM=xterm-256color"
    tmux("new-session", "-d", "-s", "t", "-x", "170", "-y", "50",
         f"env -u COLUMNS -u LINES {env} {binary} --demo -A; echo EXITED=$?; sleep 5")
    try:
        screen = tmux.wait_for("watching")
        assert "demo-gpu-cluster" in screen and "pods(all)" in screen
        tmux("send-keys", "-t", "t", ":", "no", "Enter")
        screen = tmux.wait_for("nodes[6]")
        assert "gpu-h100-1" in screen and "NVIDIA-H100-80GB-HBM3" in screen
        tmux("send-keys", "-t", "t", "/", "h100", "Enter")
        screen = tmux.wait_for("</h100>")
        assert "gpu-a100-1" not in screen
        tmux("send-keys", "-t", "t", "?")
        screen = tmux.wait_for("Keys for nodes")
        assert "Cordon" in screen and "Scale" not in screen
        tmux("send-keys", "-t", "t", "Escape")
        deadline = time.monotonic() + 10
        while "Keys for nodes" in tmux.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        tmux("send-keys", "-t", "t", ":", "gpu", "Enter")
        screen = tmux.wait_for("● demo metrics (simulated)")
        assert "allocated but idle" in screen and "GPU utilization" in screen
        tmux("send-keys", "-t", "t", ":", "models", "Enter")
        # the plots' titles show before the first refresh; "avg only" only with data
        screen = tmux.wait_for("avg only")
        assert "Throughput req/s" in screen and "resnet50" in screen
        tmux("send-keys", "-t", "t", "?")
        tmux.wait_for("Keys for the models panels")
        tmux("send-keys", "-t", "t", "Escape")
        deadline = time.monotonic() + 10
        while "Keys for the models" in tmux.screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        tmux("send-keys", "-t", "t", ":", "q", "Enter")
        screen = tmux.wait_for("EXITED=0")
        assert "Traceback" not in screen
    finally:
        subprocess.run(["tmux", "-S", tmux.socket, "kill-server"], capture_output=True,
                       timeout=10)
        if os.path.exists(tmux.socket):
            os.unlink(tmux.socket)
