"""Where a script reads metrics: the CLI's flags win over the script's header, which wins
over the environment and the config file. (``context`` and ``namespace`` in the file apply
unless ``--context`` / ``-n`` are given: see the runner.)

The file's ``prometheus`` section fills what no ``--prometheus-*`` flag set, and overrides
``MLOPS_TUI_PROMETHEUS_*`` and the config file (the script is the more specific of them).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.tui.config import metrics_settings
from mlops_tui.tui.script.loader import Script

# the script's prometheus field -> the flag (argparse dest) it stands in for
_FLAG_OF = {"url": "prometheus_url", "bearer_token_file": "prometheus_token_file",
            "username": "prometheus_user", "ca_file": "prometheus_ca_file",
            "insecure_skip_tls_verify": "prometheus_insecure_skip_tls_verify"}
_NO_FLAGS = {**dict.fromkeys(_FLAG_OF.values()), "prometheus_insecure_skip_tls_verify": False,
             "request_timeout": 10.0}


def script_metrics(script: Script, args: argparse.Namespace | None = None,
                   config_path: Path | None = None) -> MetricsSettings:
    """Metrics settings for ``script``: flags, then its ``prometheus`` section, then the
    environment and the config file.

    Raises:
        ConfigError: a secret file (token, password) cannot be read.
    """
    flags = argparse.Namespace(**{k: getattr(args, k, v) for k, v in _NO_FLAGS.items()})
    section = script.prometheus
    if section is not None:
        for name, dest in _FLAG_OF.items():
            value = getattr(section, name)
            if value and not getattr(flags, dest):
                setattr(flags, dest, value)
    settings = metrics_settings(flags, config_path)
    if section is None:
        return settings
    changes: dict[str, object] = {}
    if section.rate_window:
        changes["rate_window"] = section.rate_window
    if section.timeout:
        changes["timeout"] = section.timeout
    if section.password_file:
        changes["password"] = _read_secret(section.password_file)
    return replace(settings, **changes)


def _read_secret(path: str) -> str:
    try:
        return Path(path).expanduser().read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not a text file"
        raise ConfigError(f"cannot read the Prometheus password file {path}: {why}") from None
