"""Exec credential plugins (``users[].user.exec``) against the real API server.

The plugins are real scripts run by the real loader; the secret a failing plugin prints on
stderr must reach neither the error a user reads nor the log file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.models import BackendSettings, ResourceRef
from tests.backends.conftest import wait_for

pytestmark = pytest.mark.apiserver

SECRET = "eyJhbGciOiJSUzI1NiJ9.leaked-plugin-token-7f3a9c"
API_VERSION = "client.authentication.k8s.io/v1beta1"
MLOPS_TUI = Path(sys.executable).with_name("mlops-tui")


def plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "credential-plugin"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def kubeconfig_with_plugin(control_plane, tmp_path: Path, command: Path) -> Path:
    """The test cluster (its address and CA), with a user whose credential is ``command``."""
    config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    config["users"] = [{"name": "plugin-user", "user": {"exec": {
        "apiVersion": API_VERSION, "command": str(command), "interactiveMode": "Never"}}}]
    config["contexts"][0]["context"]["user"] = "plugin-user"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def failing_plugin(tmp_path: Path) -> Path:
    return plugin(tmp_path, f'echo "refreshing token {SECRET} failed" >&2\nexit 1\n')


def test_a_failing_plugin_is_a_clear_error_and_its_stderr_is_not_logged(
        control_plane, tmp_path, caplog):
    command = failing_plugin(tmp_path)
    path = kubeconfig_with_plugin(control_plane, tmp_path, command)
    caplog.set_level(logging.DEBUG)  # everything any logger (the client's too) emits
    backend = KubernetesBackend(BackendSettings(kubeconfig=str(path)))
    with pytest.raises(ConfigError) as err:
        asyncio.run(backend.connect())
    assert str(err.value) == f"the exec credential plugin {command} failed (exit 1)"
    assert SECRET not in str(err.value)
    assert SECRET not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_binary_exits_2_and_the_log_file_holds_no_secret(control_plane, tmp_path):
    command = failing_plugin(tmp_path)
    path = kubeconfig_with_plugin(control_plane, tmp_path, command)
    state = tmp_path / "state"
    result = subprocess.run([str(MLOPS_TUI), "--kubeconfig", str(path), "-v"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "XDG_STATE_HOME": str(state)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0] == f"error: the exec credential plugin {command} failed (exit 1)"
    log_file = state / "mlops-tui" / "mlops-tui.log"
    logged = log_file.read_text() if log_file.exists() else ""
    assert SECRET not in result.stderr + result.stdout + logged


@pytest.mark.parametrize(("body", "says"), [
    ("echo 'not json'\n", "failed (its output is not JSON)"),
    (f"echo '{json.dumps({'apiVersion': API_VERSION, 'kind': 'ExecCredential', 'status': {}})}'\n",
     "returned neither a token nor a client certificate and key"),
])
def test_a_plugin_that_gives_no_credential(control_plane, tmp_path, body, says):
    path = kubeconfig_with_plugin(control_plane, tmp_path, plugin(tmp_path, body))
    with pytest.raises(ConfigError, match=re.escape(says)):
        asyncio.run(KubernetesBackend(BackendSettings(kubeconfig=str(path))).connect())


def test_a_missing_plugin(control_plane, tmp_path):
    path = kubeconfig_with_plugin(control_plane, tmp_path, tmp_path / "no-such-plugin")
    with pytest.raises(ConfigError, match="no-such-plugin cannot be run: No such file"):
        asyncio.run(KubernetesBackend(BackendSettings(kubeconfig=str(path))).connect())


def test_a_working_plugin_authenticates(control_plane, tmp_path):
    """The token a plugin prints is the one sent: the limited user may list team-a's pods
    and nothing else (an unauthenticated request could do neither)."""
    credential = {"apiVersion": API_VERSION, "kind": "ExecCredential",
                  "status": {"token": control_plane.limited_token,
                             "expirationTimestamp": "2099-01-01T00:00:00Z"}}
    command = plugin(tmp_path, f"cat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    path = kubeconfig_with_plugin(control_plane, tmp_path, command)
    backend = KubernetesBackend(BackendSettings(kubeconfig=str(path), namespace="team-a"))
    asyncio.run(backend.connect())
    try:
        pods = backend.cache(backend.resolve_kind("pods"), "team-a")
        wait_for(lambda: pods.state().synced, what="team-a pods listed as the limited user")
        with pytest.raises(Exception, match="forbidden"):
            asyncio.run(backend.describe(ResourceRef(backend.resolve_kind("no"), "any")))
    finally:
        asyncio.run(backend.close())
