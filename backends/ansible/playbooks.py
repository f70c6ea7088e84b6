"""Where the shipped playbooks are: the package data ``mlops_tui.playbooks`` when installed,
else the repository's ``playbooks/`` folder (a source checkout run without installing)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mlops_tui.backends.errors import ConfigError

#: the playbooks a provisioner may ask for by name
NAMES = ("prerequisites.yml", "k3s.yml", "kubeadm.yml", "gpu.yml", "reset.yml",
         "kubeadm_reset.yml")

_REPO_PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def root() -> Path:
    """The playbooks directory.

    Returns:
        The directory holding the playbooks, ``roles/`` and ``files/``.

    Raises:
        ConfigError: neither the installed package data nor a checkout's folder is there.
    """
    try:
        packaged = resources.files("mlops_tui.playbooks")
    except ModuleNotFoundError:
        packaged = None
    # an editable or regular install: a real directory on disk (never a zip: ansible-playbook
    # needs files it can open by path)
    if packaged is not None and Path(str(packaged)).is_dir():
        return Path(str(packaged))
    if _REPO_PLAYBOOKS.is_dir():
        return _REPO_PLAYBOOKS
    raise ConfigError("the playbooks shipped with mlops-tui are missing",
                      hint="reinstall mlops-tui: ./install.sh")


def path(name: str) -> Path:
    """The path of one shipped playbook.

    Args:
        name: one of :data:`NAMES` ("k3s.yml"; the ".yml" may be left out).

    Returns:
        The playbook's absolute path.

    Raises:
        ConfigError: an unknown name, or a known one missing from the installation.
    """
    file_name = name if name.endswith(".yml") else f"{name}.yml"
    if file_name not in NAMES:
        raise ConfigError(f"unknown playbook {name[:60]!r}: one of {', '.join(NAMES)}")
    found = root() / file_name
    if not found.is_file():
        raise ConfigError(f"playbook {file_name} is missing from {root()}",
                          hint="reinstall mlops-tui: ./install.sh")
    return found
