"""XDG config and state directories (``$XDG_CONFIG_HOME/mlops-tui``, ``$XDG_STATE_HOME/...``)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_path, user_state_path

APP = "mlops-tui"


def config_dir() -> Path:
    path = user_config_path(APP)
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    path = user_state_path(APP)
    path.mkdir(parents=True, exist_ok=True)
    return path
