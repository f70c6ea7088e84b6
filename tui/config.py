"""Settings from flags, environment and the config file (flags win, then env, then file).

The config file is ``$XDG_CONFIG_HOME/mlops-tui/config.yaml``::

    prometheus:
      url: https://prometheus.example:9090
      bearer_token_file: ~/.config/mlops-tui/prometheus-token
      username: grafana
      password_file: ~/.config/mlops-tui/prometheus-password
      ca_file: /etc/ssl/my-ca.pem
      insecure_skip_tls_verify: false
      rate_window: 1m

Secrets are read from files or the environment, never from flags (flags show up in ``ps``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.urls import check_http_url
from mlops_tui.tui.paths import config_dir

ENV_URL = "MLOPS_TUI_PROMETHEUS_URL"
ENV_TOKEN = "MLOPS_TUI_PROMETHEUS_TOKEN"
ENV_USER = "MLOPS_TUI_PROMETHEUS_USER"
ENV_PASSWORD = "MLOPS_TUI_PROMETHEUS_PASSWORD"


def config_file() -> Path:
    return config_dir() / "config.yaml"


def _file_section(path: Path, section: str) -> dict[str, Any]:
    if not path.exists():
        return {}
    import yaml  # only when there is a file: start-up without one stays light

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    value = data.get(section) if isinstance(data, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"config file {path}: '{section}' must be a mapping")
    return value


def _secret_file(path: str | None, what: str) -> str | None:
    if not path:
        return None
    try:
        return Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None


def metrics_settings(args: argparse.Namespace, path: Path | None = None) -> MetricsSettings:
    """Resolve where the panels read from.

    Raises:
        ConfigError: an unreadable config or secret file.
    """
    section = _file_section(path or config_file(), "prometheus")
    env = os.environ
    token = (_secret_file(args.prometheus_token_file, "Prometheus token")
             or env.get(ENV_TOKEN)
             or _secret_file(section.get("bearer_token_file"), "Prometheus token"))
    password = env.get(ENV_PASSWORD) or _secret_file(section.get("password_file"),
                                                     "Prometheus password")
    insecure = args.prometheus_insecure_skip_tls_verify or bool(
        section.get("insecure_skip_tls_verify", False))
    url = args.prometheus_url or env.get(ENV_URL) or section.get("url")
    timeout = section.get("timeout", args.request_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            0 < timeout <= 3600):
        raise ConfigError(f"config file: prometheus.timeout must be seconds in (0, 3600], "
                          f"not {str(timeout)[:40]!r}")
    return MetricsSettings(
        url=check_http_url(str(url), "Prometheus URL") if url else None,
        bearer_token=token,
        username=args.prometheus_user or env.get(ENV_USER) or section.get("username"),
        password=password,
        ca_file=args.prometheus_ca_file or section.get("ca_file"),
        verify=not insecure,
        timeout=float(timeout),
        rate_window=str(section.get("rate_window", "1m")),
    )
