"""Map the tui/, backends/ and playbooks/ folders to the import packages mlops_tui.tui,
mlops_tui.backends and mlops_tui.playbooks (everything else lives in pyproject.toml)."""

from setuptools import find_packages, setup

ROOTS = ("tui", "backends", "playbooks")
packages = find_packages(include=[f"{root}{tail}" for root in ROOTS for tail in ("", ".*")])

setup(
    packages=[f"mlops_tui.{name}" for name in packages],
    package_dir={f"mlops_tui.{root}": root for root in ROOTS},
)
