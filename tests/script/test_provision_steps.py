"""Script steps preflight / provision / destroy: they run with no kubeconfig at all (the
runner connects only for a step that needs a cluster), exit codes 0 / 1 / 2, JSON events,
MLOPS_TUI_SUDO_PASSWORD masked. Preflight runs against REAL sshd hosts."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

from mlops_tui.backends.actions import ACTIONS, ActionSpec, Request, events
from mlops_tui.backends.models import BackendSettings
from mlops_tui.tui.script import JsonReporter, RunOptions, load_text, run_script
from tests.script.conftest import json_lines, run_cli


def preflight_script(host, known_hosts: Path, tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "ssh_config"
    config.touch()
    script = tmp_path / "pre.yaml"
    script.write_text(
        "steps:\n"
        f"  - preflight: {{hosts: [{{address: {host.address}, port: {host.port}, user: root,"
        f" key: {host.client_key}, roles: [server]}}], known_hosts: {known_hosts},"
        f" ssh_config: {config}{extra}}}\n")
    return script


def test_a_preflight_script_needs_no_kubeconfig(netns_sshd_host, cli_env, tmp_path):
    # HOME is an empty folder and KUBECONFIG names no file: nothing to connect with
    script = preflight_script(netns_sshd_host, netns_sshd_host.known_hosts, tmp_path)
    done = run_cli(["--script", str(script), "-o", "json"], cli_env, timeout=120)
    records = json_lines(done.stdout)
    assert done.returncode == 0, (done.stderr, records[-1])
    assert b"could not connect" not in done.stderr
    final = records[-1]
    assert final["status"] == "ok" and final["action"] == "preflight"
    assert final["data"]["hosts"][0]["host"] == netns_sshd_host.address
    outputs = [r["data"]["line"] for r in records if r["status"] == "output"]
    assert any(" reachable: " in line for line in outputs)


def test_an_unknown_host_key_exits_2_with_the_host(sshd_host, cli_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.touch()
    script = preflight_script(sshd_host, empty, tmp_path)
    done = run_cli(["--script", str(script), "-o", "json"], cli_env, timeout=120)
    assert done.returncode == 2
    final = json_lines(done.stdout)[-1]
    assert final["status"] == "failed" and "\n" not in final["error"]
    assert final["error"].startswith(f"{sshd_host.address}: ")
    # accept_new_host_keys: the same script passes the host key check
    script = preflight_script(sshd_host, empty, tmp_path, ", accept_new_host_keys: true")
    done = run_cli(["--script", str(script), "-o", "json"], cli_env, timeout=120)
    assert done.returncode in (0, 1)  # this machine's ports and resources decide the checks
    assert sshd_host.known_hosts_name in empty.read_text()


def test_a_provision_whose_host_key_is_refused_exits_2(sshd_host, cli_env, tmp_path):
    # the failure is the environment's (a host key no one accepted), not a failed check
    empty = tmp_path / "known_hosts"
    empty.touch()
    script = tmp_path / "prov.yaml"
    script.write_text(
        "steps:\n"
        f"  - provision: {{cluster: lab, path: k3s-ssh, hosts: [{{address: {sshd_host.address},"
        f" port: {sshd_host.port}, user: root, key: {sshd_host.client_key}}}],"
        f" known_hosts: {empty}}}\n")
    done = run_cli(["--script", str(script), "-o", "json"], cli_env, timeout=120)
    final = json_lines(done.stdout)[-1]
    assert done.returncode == 2, final
    assert final["status"] == "failed" and "step preflight failed" in final["error"]
    assert sshd_host.address in final["error"] and "\n" not in final["error"]


def test_destroy_without_the_name_is_a_usage_error(cli_env, tmp_path):
    script = tmp_path / "d.yaml"
    script.write_text("steps:\n  - destroy: {cluster: lab, confirm: lba}\n")
    done = run_cli(["--script", str(script)], cli_env)
    assert done.returncode == 2
    assert b"confirm must repeat the cluster name" in done.stderr


def test_a_plan_only_provision_prints_the_plan(cli_env, tmp_path):
    script = tmp_path / "p.yaml"
    script.write_text("steps:\n  - provision: {cluster: lab, path: k3s-local, plan_only: true}\n")
    done = run_cli(["--script", str(script), "-o", "json"], cli_env)
    assert done.returncode == 0, done.stderr
    final = json_lines(done.stdout)[-1]
    assert [s["id"] for s in final["data"]["plan"]][:3] == ["preflight", "prerequisites",
                                                            "k3s-server"]
    assert not (tmp_path / "state" / "mlops-tui" / "clusters").exists()


async def _run(text: str, tmp_path: Path, **options) -> tuple[int, list[dict], str]:
    script = load_text(text, str(tmp_path / "s.yaml"), env={},
                       actions=options.pop("actions", None))
    out, err = io.StringIO(), io.StringIO()
    reporter = JsonReporter(script.masker, out, err)
    code = await run_script(script, RunOptions(**options), reporter)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


async def test_the_cluster_is_connected_at_the_first_step_that_needs_it(tmp_path):
    code, records, _ = await _run(
        "steps:\n  - provision: {cluster: lab, path: k3s-ssh, hosts: [{address: 10.0.0.5}]}\n"
        "  - get: {kind: nodes}\n", tmp_path, backend="demo", cluster=BackendSettings())
    assert code == 0
    finals = [r for r in records if r["status"] in ("ok", "failed", "skipped")]
    assert [(r["action"], r["status"]) for r in finals] == [("provision", "ok"), ("get", "ok")]


async def test_a_later_connect_that_fails_exits_2(tmp_path):
    code, records, err = await _run(
        "steps:\n  - provision: {cluster: lab, path: k3s-local, plan_only: true}\n"
        "  - get: {kind: nodes}\n", tmp_path, backend="demo",
        cluster=BackendSettings(context="no-such-context"))
    assert code == 2
    finals = [(r["action"], r["status"], r["error"]) for r in records
              if r["status"] in ("ok", "failed", "skipped")]
    assert finals == [("provision", "ok", None),
                      ("get", "skipped", "not run: could not connect")]
    assert err.startswith("error: ") and "no-such-context" in err


class _Ask(Request):
    pass


async def _asks(ctx, request) -> AsyncIterator:
    # a step that shows the secret it was given: the reports must mask it (a mock action:
    # no real step prints a password, which is the point of the masking)
    secret = await ctx.ask_secret("sudo password for h1")
    yield events.output(f"got {secret}")
    yield events.ok(f"used {secret}", {"echo": secret})


async def test_the_sudo_password_comes_from_the_environment_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_TUI_SUDO_PASSWORD", "s3cret-pw-4711")
    actions = {**ACTIONS, "ask": ActionSpec("ask", _Ask, _asks, "ask", needs_cluster=False)}
    code, records, _ = await _run("steps:\n  - ask: {}\n", tmp_path, backend="demo",
                                  actions=actions)
    assert code == 0
    text = json.dumps(records)
    assert "s3cret-pw-4711" not in text
    assert records[-1]["data"] == {"echo": "***"} and records[-1]["status"] == "ok"
    monkeypatch.delenv("MLOPS_TUI_SUDO_PASSWORD")
    code, records, _ = await _run("steps:\n  - ask: {}\n", tmp_path, backend="demo",
                                  actions=actions)
    assert records[-1]["data"] == {"echo": None}  # none set: the step hears None
