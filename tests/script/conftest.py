"""Helpers for the script runner's tests: the demo backend (a product feature) is the
cluster; its ``kube-system/etcd-cp-1`` pod runs for ever and logs a line every half second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BINARY = str(Path(sys.executable).with_name("mlops-tui"))
STEADY_POD = "etcd-cp-1"  # in kube-system, in every demo world
KEYS = {"step", "name", "action", "status", "duration_s", "data", "error"}


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """An environment with its own state and config dirs and no kubeconfig of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_TUI_", "KUBECONFIG"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               KUBECONFIG=str(tmp_path / "no-kubeconfig"), HOME=str(tmp_path))
    return env


def run_cli(args: list[str], env: dict[str, str], *, stdin: bytes | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], input=stdin, capture_output=True, env=env,
                          timeout=timeout)


def json_lines(stdout: bytes | str) -> list[dict]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        assert set(record) == KEYS, record
    return records
