"""Start-up: process start to the first painted frame, mlops-tui --demo vs a bare Textual app.

Both run from this venv in a real pseudo-terminal, alternately, ``--runs`` times each (median
reported). "Painted" means the terminal received a frame holding the screen's content: for
mlops-tui, the first table's titled border; for the bare app, its one
Static's text. Prints one JSON line; target (issue 6): ratio <= 1.5.

    python benchmarks/bench_startup.py
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
BARE_APP = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare-app-painted")

Bare().run()
"""


def time_to_text(argv: list[str], marker: bytes, env: dict[str, str],
                 timeout: float = 60.0) -> float:
    """Seconds from spawning ``argv`` on a fresh pty until ``marker`` shows in its output."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty: it died
                    break
                seen = (seen + chunk)[-200_000:]
                if marker in seen:
                    return time.perf_counter() - start
            elif proc.poll() is not None:
                break
        tail = seen[-500:].decode("utf-8", "replace")
        raise SystemExit(f"{argv[0]}: {marker!r} never appeared; last output: {tail!r}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        os.close(master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "48",
               "XDG_STATE_HOME": home, "XDG_CONFIG_HOME": home, "HOME": home,
               "TEXTUAL": ""}
        # bytecode may be written: an installed package has its .pyc files (pip compiles
        # them), so the untimed warm-up runs below leave both programs on equal terms
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        bare_script = Path(home) / "bare_app.py"
        bare_script.write_text(BARE_APP)
        app_argv = [str(VENV_BIN / "mlops-tui"), "--demo"]
        bare_argv = [str(VENV_BIN / "python"), str(bare_script)]
        # warm the OS file cache and the bytecode of both, untimed
        time_to_text(app_argv, b" pods(", env)
        time_to_text(bare_argv, b"bare-app-painted", env)
        app, bare = [], []
        for _ in range(args.runs):
            app.append(time_to_text(app_argv, b" pods(", env))
            bare.append(time_to_text(bare_argv, b"bare-app-painted", env))
    app_s, bare_s = statistics.median(app), statistics.median(bare)
    print(json.dumps({
        "runs": args.runs,
        "app_first_frame_s": round(app_s, 3),
        "bare_textual_first_frame_s": round(bare_s, 3),
        "ratio": round(app_s / bare_s, 2),
        "app_runs_s": [round(x, 3) for x in app],
        "bare_runs_s": [round(x, 3) for x in bare],
    }))


if __name__ == "__main__":
    main()
