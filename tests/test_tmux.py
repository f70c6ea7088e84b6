"""The real ``mlops-tui`` binary in a real terminal (tmux): type, read the screen, quit.

Every wait here either sees what it waits for or fails with the screen it saw; without
tmux the tests skip, or fail where ``MLOPS_TUI_REQUIRE_SERVERS`` is set (CI).
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools import require_tool


class Tmux:
    """A private tmux server (its own socket), so nothing else is touched."""

    def __init__(self, tmux: str, tmp_path: Path) -> None:
        self.tmux = tmux
        self.socket = str(tmp_path / "tmux.sock")

    def __call__(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-S", self.socket, *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        """Key names as tmux knows them (``Enter``, ``C-d``) or literal text."""
        self("send-keys", "-t", "t", *keys)

    def literal(self, text: str) -> None:
        """``text`` typed as it is (``;`` or ``Enter`` are not read as anything else)."""
        self("send-keys", "-t", "t", "-l", "--", text)

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while text in screen:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} never went away; screen was:\n{screen}")
            time.sleep(0.1)
            screen = self.screen()
        return screen


@pytest.fixture
def demo(tmp_path) -> Iterator[Tmux]:
    """``mlops-tui --demo -A`` running in a 170x50 tmux pane; prints EXITED=rc when done."""
    tmux = Tmux(require_tool("tmux"), tmp_path)
    binary = Path(sys.executable).with_name("mlops-tui")
    env = f"XDG_STATE_HOME={tmp_path} TERM=xterm-256color"
    tmux("new-session", "-d", "-s", "t", "-x", "170", "-y", "50",
         f"env -u COLUMNS -u LINES {env} {binary} --demo -A; echo EXITED=$?; sleep 30")
    try:
        yield tmux
    finally:
        subprocess.run([tmux.tmux, "-S", tmux.socket, "kill-server"], capture_output=True,
                       timeout=10)
        if os.path.exists(tmux.socket):
            os.unlink(tmux.socket)


def test_demo_in_a_real_terminal(demo):
    tmux = demo
    screen = tmux.wait_for("watching")
    assert "demo-gpu-cluster" in screen and "pods(all)" in screen
    tmux.keys(":", "no", "Enter")
    screen = tmux.wait_for("nodes[6]")
    assert "gpu-h100-1" in screen and "NVIDIA-H100-80GB-HBM3" in screen
    tmux.keys("/", "h100", "Enter")
    screen = tmux.wait_for("</h100>")
    assert "gpu-a100-1" not in screen
    tmux.keys("?")
    screen = tmux.wait_for("Keys for nodes")
    assert "Cordon" in screen and "Scale" not in screen
    tmux.keys("Escape")
    tmux.wait_gone("Keys for nodes")
    tmux.keys(":", "gpu", "Enter")
    screen = tmux.wait_for("● demo metrics (simulated)")
    assert "allocated but idle" in screen and "GPU utilization" in screen
    tmux.keys(":", "models", "Enter")
    # the plots' titles show before the first refresh; "avg only" only with data
    screen = tmux.wait_for("avg only")
    assert "Throughput req/s" in screen and "resnet50" in screen
    tmux.keys("?")
    tmux.wait_for("Keys for the models panels")
    tmux.keys("Escape")
    tmux.wait_gone("Keys for the models")
    tmux.keys(":", "q", "Enter")
    screen = tmux.wait_for("EXITED=0")
    assert "Traceback" not in screen


def test_hostile_text_in_a_real_terminal(demo):
    """What once crashed the released binary with a MarkupError, typed for real."""
    tmux = demo
    tmux.wait_for("watching")
    tmux.literal("/[/")
    tmux.wait_for("</[/>")
    tmux.keys("Enter", "Escape")
    tmux.literal("/[a=")
    tmux.keys("Enter")
    tmux.wait_for("invalid regex")
    tmux.keys("Escape")
    tmux.literal(":po [/]")
    tmux.keys("Enter")
    tmux.wait_for("invalid namespace '[/]'")
    tmux.literal(":po -l app in (x")
    tmux.keys("Enter")
    screen = tmux.wait_for("invalid selector")
    assert "pods(all)" in screen and "EXITED" not in screen
    tmux.keys(":", "q", "Enter")
    assert "Traceback" not in tmux.wait_for("EXITED=0")


# -- random keys ----------------------------------------------------------------------------
SEED = 4242
KEYS = 1_000
PACE_S = 0.02  # a fast typist; unpaced, tmux delivers faster than any hand
VIEWS = ("po", "deploy", "sts", "ds", "no", "ns", "svc", "ev", "gpu", "models", "pulse", "ctx")
# tmux key names; no ctrl+c and no "q" (":q" would end the run; quitting is tested above)
NAMED = ("Enter", "Escape", "Tab", "BTab", "Up", "Down", "Left", "Right", "Home", "End",
         "PPage", "NPage", "BSpace", "C-d", "C-k", "C-w")
CHARS = (string.ascii_letters + string.digits + "[]/:!-_=.,()<>?'\"\\ *{}|$@#%&~;").replace(
    "q", "").replace("Q", "")


def _random_round(rng: random.Random, view: str) -> list[tuple[str, str]]:
    """(how, what) pairs: ("keys", tmux key name) or ("literal", text)."""
    out = [("keys", "Escape"), ("keys", "Escape"), ("literal", f":{view}"), ("keys", "Enter")]
    out.append(("literal", rng.choice("dyl?")))
    for _ in range(36):
        if rng.random() < 0.25:
            out.append(("keys", rng.choice(NAMED)))
        else:
            out.append(("literal", rng.choice(CHARS)))
    return out


def test_random_keys_in_a_real_terminal(demo):
    """1,000 random keys over every view of the live demo in the real binary: no crash,
    and it still answers (the Pilot test presses 5,000 over the frozen demo)."""
    tmux = demo
    tmux.wait_for("watching")
    rng = random.Random(SEED)
    sent, round_number = 0, 0
    while sent < KEYS:
        steps = _random_round(rng, VIEWS[round_number % len(VIEWS)])
        for how, what in steps:
            (tmux.keys if how == "keys" else tmux.literal)(what)
            time.sleep(PACE_S)
        sent += len(steps)
        round_number += 1
        screen = tmux.screen()
        assert "EXITED=" not in screen and "Traceback" not in screen, (
            f"round {round_number} ended the app: {steps!r}\n{screen}")
    # still answering: back to the main screen, then a command opens the pods view (an
    # escape and the key after it, sent together, read as one alt+key: space them out)
    for _ in range(6):
        tmux.keys("Escape")
        time.sleep(0.3)
    tmux.literal(":po -A")
    tmux.keys("Enter")
    # keys sent together with an Enter reach the command bar before Enter submits it
    # (Textual runs Input's non-priority enter binding after the keys queued behind it)
    time.sleep(0.3)
    tmux.literal("/caught-up")  # shown only once every key before it was handled
    tmux.keys("Enter")
    screen = tmux.wait_for("</caught-up>", timeout=30)
    assert "pods(all)" in screen and "EXITED=" not in screen
    tmux.literal(":q")
    tmux.keys("Enter")
    assert "Traceback" not in tmux.wait_for("EXITED=0")
