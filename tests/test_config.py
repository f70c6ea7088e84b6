"""Where the panels read from: flags win, then the environment, then the config file;
secrets come from files or the environment; a broken file is one clear error."""

from __future__ import annotations

import pytest

from mlops_tui.backends.errors import ConfigError
from mlops_tui.tui.cli import build_parser
from mlops_tui.tui.config import metrics_settings


def args(*argv: str):
    return build_parser().parse_args(list(argv))


def test_defaults_mean_the_clusters_own_prometheus(tmp_path, monkeypatch):
    for name in ("MLOPS_TUI_PROMETHEUS_URL", "MLOPS_TUI_PROMETHEUS_TOKEN",
                 "MLOPS_TUI_PROMETHEUS_USER", "MLOPS_TUI_PROMETHEUS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = metrics_settings(args(), tmp_path / "absent.yaml")
    assert settings.url is None and settings.verify and settings.bearer_token is None


def test_precedence_flags_env_file(tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"prometheus:\n  url: https://from-file:9090\n  username: fileuser\n"
                      f"  bearer_token_file: {token_file}\n  rate_window: 2m\n"
                      f"  insecure_skip_tls_verify: true\n")
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_TOKEN", raising=False)
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_USER", raising=False)
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_URL", raising=False)
    from_file = metrics_settings(args(), config)
    assert (from_file.url, from_file.username, from_file.bearer_token) == (
        "https://from-file:9090", "fileuser", "file-token")
    assert from_file.rate_window == "2m" and not from_file.verify
    monkeypatch.setenv("MLOPS_TUI_PROMETHEUS_URL", "https://from-env:9090")
    monkeypatch.setenv("MLOPS_TUI_PROMETHEUS_TOKEN", "env-token")
    from_env = metrics_settings(args(), config)
    assert (from_env.url, from_env.bearer_token) == ("https://from-env:9090", "env-token")
    flag_token = tmp_path / "flag-token"
    flag_token.write_text("flag-token")
    from_flags = metrics_settings(args("--prometheus-url", "https://from-flag:9090",
                                       "--prometheus-token-file", str(flag_token)), config)
    assert (from_flags.url, from_flags.bearer_token) == ("https://from-flag:9090", "flag-token")
    assert "flag-token" not in repr(from_flags)  # secrets stay out of reprs and logs


@pytest.mark.parametrize(("content", "message"), [
    ("prometheus: [1, 2]\n", "'prometheus' must be a mapping"),
    ("prometheus: {url: [unclosed\n", "cannot read config file"),
    ("prometheus:\n  bearer_token_file: /nonexistent/token\n",
     "cannot read the Prometheus token file /nonexistent/token"),
])
def test_bad_config_is_one_clear_error(tmp_path, monkeypatch, content, message):
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_TOKEN", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        metrics_settings(args(), config)


@pytest.mark.parametrize("url", ["not-a-url", "ftp://host/", "http://", "http://[::1",
                                 "https://host:99999/", "[bold]x[/]"])
def test_a_url_that_cannot_be_prometheus_is_refused_before_any_request(tmp_path, monkeypatch,
                                                                        url):
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_URL", raising=False)
    with pytest.raises(ConfigError, match="invalid Prometheus URL"):
        metrics_settings(args("--prometheus-url", url), tmp_path / "absent.yaml")
    monkeypatch.setenv("MLOPS_TUI_PROMETHEUS_URL", url)
    with pytest.raises(ConfigError, match="invalid Prometheus URL"):
        metrics_settings(args(), tmp_path / "absent.yaml")


def test_a_url_with_credentials_is_never_repeated(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        metrics_settings(args("--prometheus-url", "gopher://user:hunter2@host"),
                         tmp_path / "absent.yaml")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("timeout", ["abc", "-1", "0", "true", "1e9", "[1]"])
def test_a_bad_timeout_in_the_config_file_is_one_clear_error(tmp_path, monkeypatch, timeout):
    monkeypatch.delenv("MLOPS_TUI_PROMETHEUS_URL", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"prometheus:\n  timeout: {timeout}\n")
    with pytest.raises(ConfigError, match="prometheus.timeout"):
        metrics_settings(args(), config)
