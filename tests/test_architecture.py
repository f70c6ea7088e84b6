"""The seam holds: backends never import the UI, the TUI never imports a concrete backend."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

from mlops_tui import backends

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_headless_modules_load_no_ui_toolkit() -> None:
    """Importing every backend module in a fresh interpreter pulls in no textual or rich."""
    modules = [m.name for m in pkgutil.walk_packages(backends.__path__, "mlops_tui.backends.")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich') or m.startswith('mlops_tui.tui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    assert "mlops_tui.backends.kubernetes.backend" in modules and "mlops_tui.backends.demo" in modules


def test_registry_lists_without_importing_and_rejects_unknown_names() -> None:
    code = (
        "import sys\n"
        "from mlops_tui.backends import registry\n"
        "names = registry.available()\n"
        "assert 'kubernetes' in names and 'demo' in names, names\n"
        "assert 'mlops_tui.backends.kubernetes' not in sys.modules\n"
        "from mlops_tui.backends.errors import ConfigError\n"
        "try:\n"
        "    registry.load('nope')\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "unknown backend 'nope'; installed backends: demo, kubernetes" in result.stdout


def test_a_bundled_backend_starts_without_reading_installed_metadata() -> None:
    """Start-up cost: the demo (and kubernetes) backends are created by name; the entry
    points, which need importlib.metadata (~20 ms of imports), are read only for other
    names, for listing, and for errors."""
    code = (
        "import sys\n"
        "from mlops_tui.backends import registry\n"
        "from mlops_tui.backends.models import BackendSettings\n"
        "backend = registry.create('demo', BackendSettings())\n"
        "print(type(backend).__name__, 'importlib.metadata' in sys.modules)\n"
        "from mlops_tui.tui import package_version\n"
        "print(package_version(), 'importlib.metadata' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    from importlib.metadata import version

    assert result.stdout.split("\n")[:2] == ["DemoBackend False",
                                             f"{version('mlops-tui')} False"]
