"""The CLI's contract: kubectl-like help, exit 2 with one clear line on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlops_tui.tui.cli import main


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, "XDG_STATE_HOME": "/tmp/mlops-tui-test-state", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlops_tui.tui", *args], capture_output=True,
                          text=True, timeout=60, env=full_env)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mlops-tui ")


def test_help_reads_like_kubectl():
    result = run_cli("--help")
    assert result.returncode == 0
    for part in ("Examples:", "Usage:", "Options:", "--kubeconfig", "--context", "-n, --namespace",
                 "-A, --all-namespaces", "--readonly", "--demo", "--command"):
        assert part in result.stdout


def test_unknown_flag_exits_2():
    result = run_cli("--nope")
    assert result.returncode == 2
    assert "error: unrecognized arguments: --nope" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("clusters: [unclosed", "is not valid YAML at line 1"),
        ("", "is empty or not a mapping"),
        ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
         "has no current-context"),
        ("apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts: []\n",
         "invalid kubeconfig"),
    ],
)
def test_bad_kubeconfig_gives_one_clear_line(tmp_path, content, expected):
    path = tmp_path / "config"
    path.write_text(content)
    result = run_cli("--kubeconfig", str(path))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_and_unreadable_kubeconfig(tmp_path):
    result = run_cli("--kubeconfig", str(tmp_path / "absent"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = run_cli(env={"KUBECONFIG": str(tmp_path / "absent"), "HOME": str(tmp_path)})
    assert result.returncode == 2 and "no kubeconfig found" in result.stderr
    assert "--demo" in result.stderr


def test_unknown_context(tmp_path):
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: a, context: {cluster: c, user: u}}]\n")
    result = run_cli("--kubeconfig", str(path), "--context", "nope")
    assert result.returncode == 2
    assert "context 'nope' not found in kubeconfig; available: a" in result.stderr


def test_unreachable_server_exits_2_without_leaking_the_token(tmp_path):
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: sekret-token-123}}]\n"
        "contexts: [{name: a, context: {cluster: c, user: u}}]\n")
    result = run_cli("--kubeconfig", str(path), "--request-timeout", "2")
    assert result.returncode == 2
    assert "cannot reach https://127.0.0.1:1: connection refused" in result.stderr
    assert "sekret" not in result.stderr + result.stdout


def test_unknown_backend_lists_installed():
    result = run_cli("--backend", "nope")
    assert result.returncode == 2
    assert "unknown backend 'nope'; installed backends: demo, kubernetes" in result.stderr


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--request-timeout", "0", "must be more than 0 and at most 3600 seconds"),
    ("--request-timeout", "-1", "must be more than 0 and at most 3600 seconds"),
    ("--request-timeout", "nan", "must be more than 0 and at most 3600 seconds"),
    ("--request-timeout", "inf", "must be more than 0 and at most 3600 seconds"),
    ("--request-timeout", "1e309", "must be more than 0 and at most 3600 seconds"),
    ("--request-timeout", "abc", "'abc' is not a number of seconds"),
    ("--refresh", "0", "must be at least 0.5 and at most 3600 seconds"),
    ("--refresh", "-inf", "must be at least 0.5 and at most 3600 seconds"),
    ("--refresh", "nan", "must be at least 0.5 and at most 3600 seconds"),
    ("--log-lines", "-1", "must be between 100 and 1000000 lines"),
    ("--log-lines", "9" * 30, "must be between 100 and 1000000 lines"),
    ("--log-lines", "1.5", "'1.5' is not a whole number"),
    ("--log-line-max", "-4096", "must be between 80 and 1048576 bytes"),
    ("--log-line-max", "99999999999", "must be between 80 and 1048576 bytes"),
    ("-n", "a b/../../x?watch=1", "invalid namespace 'a b/../../x?watch=1': must be lower-case"),
    ("-n", "[/]", "invalid namespace '[/]'"),
    ("--namespace", "Default", "invalid namespace 'Default'"),
])
def test_bad_flag_values_are_usage_errors(capsys, flag, value, says):
    from mlops_tui.tui.cli import build_parser

    with pytest.raises(SystemExit) as exit_:  # the parser main() uses; no app ever starts
        build_parser().parse_args(["--demo", f"{flag}={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    shown = "-n/--namespace" if flag in ("-n", "--namespace") else flag
    assert f"error: argument {shown}: " in err
    assert says in err and "Traceback" not in err


def test_good_flag_values_parse():
    from mlops_tui.tui.cli import build_parser

    args = build_parser().parse_args(["--request-timeout", "0.25", "--refresh", "0.5",
                                      "--log-lines", "100", "--log-line-max", "1048576",
                                      "-n", "team-a"])
    assert (args.request_timeout, args.refresh, args.log_lines, args.log_line_max,
            args.namespace) == (0.25, 0.5, 100, 1048576, "team-a")


def test_a_hostile_namespace_sends_no_request(tmp_path):
    """The real binary against a server that records every request: none arrives."""
    from tests.backends.odd_server import OddServer

    with OddServer() as server:
        result = run_cli("--kubeconfig", str(server.kubeconfig(tmp_path / "config")),
                         "-n", "a b/../../x?watch=1")
        assert server.requests == []
    assert result.returncode == 2
    assert "error: argument -n/--namespace: invalid namespace" in result.stderr
    assert "Traceback" not in result.stderr
