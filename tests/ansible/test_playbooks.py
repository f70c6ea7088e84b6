"""The shipped playbooks: found by name, every one passes ``ansible-playbook
--syntax-check`` (and ansible-lint's production profile where ansible-lint is installed),
and ``--list-tasks`` output counts as the runner's progress expects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_tui.backends.ansible import playbooks
from mlops_tui.backends.ansible.tasks import parse_task_list
from mlops_tui.backends.errors import ConfigError

BIN = Path(sys.executable).parent
ALL = sorted(playbooks.root().glob("*.yml"))


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "ANSIBLE_HOME": str(tmp_path / "home"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t"),
            "ANSIBLE_NOCOLOR": "1"}


def test_names() -> None:
    assert playbooks.path("k3s.yml") == playbooks.root() / "k3s.yml"
    assert playbooks.path("reset") == playbooks.root() / "reset.yml"
    with pytest.raises(ConfigError, match="unknown playbook"):
        playbooks.path("../../etc/passwd")
    for name in ("prerequisites.yml", "k3s.yml", "gpu.yml", "reset.yml"):
        assert playbooks.path(name).is_file()


@pytest.mark.parametrize("book", ALL, ids=[p.name for p in ALL])
def test_syntax(book: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[server]\nh1\n[agent]\nh2\n")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(inventory), str(book)],
        capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    lint = shutil.which("ansible-lint", path=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    if lint is None:
        pytest.skip("ansible-lint is not installed (pip install ansible-lint)")
    mine = [str(p) for p in ALL if not p.name.startswith("kubeadm")]
    result = subprocess.run([lint, "--offline", "--profile", "production", *mine],
                            capture_output=True, text=True, timeout=600,
                            cwd=playbooks.root(), env=_env(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_list_tasks_counts_tasks_and_a_fact_gathering_per_play() -> None:
    text = ("\nplaybook: k3s.yml\n\n  play #1 (localhost): Air-gap\tTAGS: []\n    tasks:\n"
            "      k3s : Air-gap bundle files\tTAGS: []\n\n  play #2 (server): K3s servers"
            "\tTAGS: []\n    tasks:\n      k3s : The node's address\tTAGS: []\n"
            "      k3s : Installer\tTAGS: []\n")
    assert parse_task_list(text) == 5
    assert parse_task_list("ERROR! nothing") == 0
