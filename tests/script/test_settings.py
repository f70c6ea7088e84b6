"""Where a script connects: flags, then the script's header, then environment and config."""

from __future__ import annotations

import argparse
import io

import pytest

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.script import RunOptions, TextReporter, load_text, run_script
from mlops_tui.tui.script.settings import script_metrics
from tests.script.conftest import STEADY_POD

STEPS = "steps:\n  - get: {kind: nodes}\n"


def flags(**given) -> argparse.Namespace:
    base = dict(prometheus_url=None, prometheus_token_file=None, prometheus_user=None,
                prometheus_ca_file=None, prometheus_insecure_skip_tls_verify=False,
                request_timeout=10.0)
    return argparse.Namespace(**{**base, **given})


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("URL", "TOKEN", "USER", "PASSWORD"):
        monkeypatch.delenv(f"MLOPS_TUI_PROMETHEUS_{name}", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text("prometheus:\n  url: http://from-config:9090\n  rate_window: 2m\n")
    return path


def test_the_config_file_applies_without_a_section(config):
    settings = script_metrics(load_text(STEPS, env={}), flags(), config)
    assert (settings.url, settings.rate_window) == ("http://from-config:9090", "2m")


def test_the_section_beats_environment_and_config(config, monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_TUI_PROMETHEUS_URL", "http://from-env:9090")
    monkeypatch.setenv("MLOPS_TUI_PROMETHEUS_TOKEN", "env-token")
    (tmp_path / "token").write_text("file-token\n")
    (tmp_path / "password").write_text("pw\n")
    script = load_text(
        "prometheus:\n  url: http://from-script:9090\n  rate_window: 30s\n  timeout: 5s\n"
        f"  bearer_token_file: {tmp_path / 'token'}\n  username: ci\n"
        f"  password_file: {tmp_path / 'password'}\n" + STEPS, env={})
    settings = script_metrics(script, flags(), config)
    assert settings.url == "http://from-script:9090"
    assert (settings.rate_window, settings.timeout) == ("30s", 5.0)
    assert (settings.bearer_token, settings.username, settings.password) == (
        "file-token", "ci", "pw")


def test_a_plain_string_is_the_url_and_flags_win(config):
    script = load_text("prometheus: https://from-script:9090\n" + STEPS, env={})
    assert script_metrics(script, flags(), config).url == "https://from-script:9090"
    assert script_metrics(script, flags(prometheus_url="http://flag:1"), config).url == (
        "http://flag:1")


def test_an_unreadable_password_file_is_a_config_error(config, tmp_path):
    script = load_text(f"prometheus:\n  password_file: {tmp_path / 'missing'}\n" + STEPS,
                       env={})
    with pytest.raises(ConfigError, match="cannot read the Prometheus password file"):
        script_metrics(script, flags(), config)


async def test_the_namespace_flag_wins_over_the_script():
    script = load_text(f"namespace: kube-system\nsteps:\n  - describe: {{kind: pods, name: "
                       f"{STEADY_POD}}}\n", env={})
    out = io.StringIO()
    code = await run_script(script, RunOptions(backend="demo",
                                               cluster=BackendSettings(namespace="default")),
                            TextReporter(script.masker, out, io.StringIO(), live=False))
    assert code == 1
    assert "not found in namespace 'default'" in out.getvalue()


async def test_in_process_the_section_applies_and_its_errors_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    script = load_text(f"prometheus:\n  password_file: {tmp_path / 'missing'}\n" + STEPS,
                       env={})
    err = io.StringIO()
    code = await run_script(script, RunOptions(backend="demo"),
                            TextReporter(script.masker, io.StringIO(), err, live=False))
    assert code == 2
    assert err.getvalue().startswith("error: cannot read the Prometheus password file ")
