"""Map the tui/ and backends/ folders to the import packages mlops_tui.tui and
mlops_tui.backends (everything else lives in pyproject.toml)."""

from setuptools import find_packages, setup

ROOTS = ("tui", "backends")
packages = find_packages(include=[f"{root}{tail}" for root in ROOTS for tail in ("", ".*")])

setup(
    packages=[f"mlops_tui.{name}" for name in packages],
    package_dir={f"mlops_tui.{root}": root for root in ROOTS},
)
