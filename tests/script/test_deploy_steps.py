"""The model loop's script steps: check_repository, deploy, wait for model_ready, infer,
loadtest, rollback, undeploy.

The loader checks every step's shape (the step keys are a contract) with a line number
before anything runs; then the real ``mlops-tui`` binary runs scripts against the real
apiserver (dry run: manifests and diff; a repository with problems: exit 1, one line per
problem) and against the demo backend, which cannot port-forward (exit 2).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlops_tui.tui.script import ScriptError, load_text
from tests.script.conftest import BINARY, json_lines, run_cli
from tests.servers.triton import DEFAULT_MODELS, write_model_repository

CONTRACT = """\
steps:
  - check_repository: {path: ./model_repository}
  - deploy: {name: resnet, model_repository: pvc://models/repo, runtime: triton,
             replicas: 1, gpus: 0, dry_run: false}
  - wait: {for: model_ready, name: resnet, model: resnet50, timeout: 5m}
  - infer: {name: resnet, model: resnet50, protocol: grpc, inputs: random}
  - loadtest: {name: resnet, model: resnet50, protocol: grpc, concurrency: [1, 4, 16],
               duration: 10s, output: results.json}
  - rollback: {name: resnet}
  - undeploy: {name: resnet}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        load_text(text, "ci.yaml", env={})
    return caught.value.lines()


def test_the_documented_steps_load_as_typed_requests():
    script = load_text(CONTRACT, "ci.yaml", env={})
    assert [s.action for s in script.steps] == ["check_repository", "deploy", "wait", "infer",
                                                "loadtest", "rollback", "undeploy"]
    _, deploy, wait, infer, loadtest, *_ = (s.request for s in script.steps)
    assert (deploy.name, deploy.replicas, deploy.gpus, deploy.dry_run, deploy.wait) == (
        "resnet", 1, 0, False, True)
    assert (wait.for_, wait.model, wait.timeout, wait.kind) == ("model_ready", "resnet50",
                                                                300.0, None)
    assert (infer.protocol, infer.inputs) == ("grpc", "random")
    assert (loadtest.concurrency, loadtest.duration, loadtest.output) == (
        [1, 4, 16], 10.0, "results.json")


@pytest.mark.parametrize(("step", "expected"), [
    ("deploy: {name: resnet, model_repository: pvc://m/r, replica: 2}",
     "ci.yaml:2: steps[0].deploy.replica: unknown field; known: "),
    ("deploy: {name: resnet, model_repository: pvc://m/r, replicas: 1001}",
     "ci.yaml:2: steps[0].deploy.replicas: input should be less than or equal to 1000"),
    ("deploy: {name: resnet, model_repository: pvc://m/r, gpus: -1}",
     "ci.yaml:2: steps[0].deploy.gpus: input should be greater than or equal to 0"),
    ("deploy: {name: Res_Net, model_repository: pvc://m/r}",
     "ci.yaml:2: steps[0].deploy.name: 'Res_Net' "),
    ("deploy: {name: resnet, model_repository: 'ftp://x/y'}",
     "ci.yaml:2: steps[0].deploy.model_repository: model repository 'ftp://x/y': ftp:// is "
     "not supported"),
    ("deploy: {name: resnet}",
     "ci.yaml:2: steps[0].deploy.model_repository: required field missing"),
    ("wait: {for: model_ready, name: resnet}",
     "ci.yaml:2: steps[0].wait: for: model_ready needs 'model'"),
    ("wait: {for: model_ready, kind: deploy, name: resnet, model: m}",
     "ci.yaml:2: steps[0].wait: for: model_ready takes no 'kind'"),
    ("infer: {model: resnet50}",
     "ci.yaml:2: steps[0].infer: give name (the model server deployment) or url"),
    ("infer: {name: resnet, model: 'a/../b'}",
     "ci.yaml:2: steps[0].infer.model: a model name is 1-253 letters"),
    ("infer: {name: resnet, model: m, protocol: ftp}",
     "ci.yaml:2: steps[0].infer.protocol: input should be 'http' or 'grpc'"),
    ("loadtest: {name: resnet, model: m, concurrency: [1, 5000]}",
     "ci.yaml:2: steps[0].loadtest.concurrency[1]: input should be less than or equal to "
     "4096"),
    ("loadtest: {name: resnet, model: m, concurrency: 4}",
     "ci.yaml:2: steps[0].loadtest.concurrency: input should be a valid list"),
    ("loadtest: {name: resnet, model: m, concurrency: [1], rate: [10]}",
     "ci.yaml:2: steps[0].loadtest: give concurrency or rate, not both"),
    ("loadtest: {name: resnet, model: m, duration: 10s, requests: 5}",
     "ci.yaml:2: steps[0].loadtest: give duration or requests, not both"),
    ("loadtest: {name: resnet, model: m, rate: [0]}",
     "ci.yaml:2: steps[0].loadtest.rate[0]: input should be greater than 0"),
    ("rollback: {name: resnet, revision: 0}",
     "ci.yaml:2: steps[0].rollback.revision: input should be greater than or equal to 1"),
    ("undeploy: {name: resnet, all: true}",
     "ci.yaml:2: steps[0].undeploy.all: unknown field; known: delete_claim, name, "
     "namespace"),
    ("check_repository: {path: ./repo, bucket: x}",
     "ci.yaml:2: steps[0].check_repository.bucket: unknown field; known: endpoint_url, "
     "namespace, path"),
])
def test_bad_steps_are_refused_with_their_line(step, expected):
    text = f"steps:\n  - {step}\n"
    assert errors_of(text)[0].startswith(expected), errors_of(text)


# -- the real binary ---------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, control_plane) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MLOPS_TUI_", "KUBECONFIG"))}
    return {**clean, "KUBECONFIG": str(control_plane.admin_kubeconfig),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}


def run(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, "--script", str(script), "-o", "json", *args],
                          capture_output=True, env=env, cwd="/", timeout=240)


def records(result: subprocess.CompletedProcess, status: str) -> list[dict]:
    return [r for r in json_lines(result.stdout) if r["status"] == status]


@pytest.mark.apiserver
def test_a_dry_run_deploy_gives_manifests_and_diff(tmp_path, env, fresh_namespace):
    write_model_repository(tmp_path / "model_repository", DEFAULT_MODELS)
    script = tmp_path / "deploy.yaml"
    script.write_text(f"""\
namespace: {fresh_namespace}
steps:
  - check_repository: {{path: ./model_repository}}
  - deploy: {{name: resnet, model_repository: ./model_repository, runtime: triton,
             replicas: 1, gpus: 0, dry_run: true}}
""")
    result = run(script, env)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    check, deploy = records(result, "ok")
    assert check["data"]["models"] == ["bert (python, version 1)",
                                       "resnet50 (python, version 1)"]
    kinds = {m["kind"] for m in deploy["data"]["manifests"]}
    assert {"ConfigMap", "Deployment", "Service"} <= kinds
    assert "+++ merged/deployment.apps/resnet" in deploy["data"]["diff"]


@pytest.mark.apiserver
def test_a_repository_with_problems_exits_1_with_one_line_per_problem(tmp_path, env,
                                                                      fresh_namespace):
    repo = write_model_repository(tmp_path / "model_repository", DEFAULT_MODELS)
    (repo / "resnet50" / "1" / "model.py").unlink()
    (repo / "bert" / "config.pbtxt").write_text("name: 'other'\nbackend: 'python'\n")
    script = tmp_path / "check.yaml"
    script.write_text(f"""\
namespace: {fresh_namespace}
steps:
  - check_repository: {{path: model_repository}}
  - deploy: {{name: resnet, model_repository: model_repository}}
""")
    result = run(script, env)
    assert result.returncode == 1, result.stdout.decode() + result.stderr.decode()
    (failed,) = records(result, "failed")
    problems = failed["data"]["problems"]
    assert [r["data"]["line"] for r in records(result, "output")] == problems
    assert len(problems) >= 2 and all("\n" not in p for p in problems)
    assert any(p.startswith("resnet50/1") for p in problems)
    assert any(p.startswith("bert/config.pbtxt") for p in problems)
    assert [r["action"] for r in records(result, "skipped")] == ["deploy"]


def test_no_port_forward_exits_2_and_says_to_give_url(cli_env, tmp_path):
    script = tmp_path / "infer.yaml"
    script.write_text("steps:\n  - infer: {name: resnet, model: resnet50}\n")
    result = run_cli(["--demo", "--script", str(script), "-o", "json"], cli_env)
    assert result.returncode == 2, result.stdout.decode() + result.stderr.decode()
    (failed,) = [r for r in json_lines(result.stdout) if r["status"] == "failed"]
    assert "cannot port-forward" in failed["error"] and "url" in failed["error"]
    assert "Traceback" not in result.stderr.decode()


@pytest.mark.apiserver
def test_the_model_loop_as_a_script_on_the_real_node(tmp_path, env, fresh_namespace,
                                                      real_node):
    """The documented steps, end to end, by the real binary: the pods really run."""
    import json

    write_model_repository(tmp_path / "model_repository", DEFAULT_MODELS[:1])
    placement = json.dumps({"image": real_node.images["triton"],
                            "init_image": real_node.images["busybox"],
                            "image_pull_policy": "Never",
                            "tolerations": [real_node.toleration],
                            "node_selector": real_node.node_selector})[1:-1]
    script = tmp_path / "loop.yaml"
    script.write_text(f"""\
namespace: {fresh_namespace}
steps:
  - check_repository: {{path: ./model_repository}}
  - deploy: {{name: resnet, model_repository: ./model_repository, runtime: triton,
             replicas: 1, gpus: 0, dry_run: false, timeout: 3m, {placement}}}
  - wait: {{for: model_ready, name: resnet, model: resnet50, timeout: 1m}}
  - infer: {{name: resnet, model: resnet50, protocol: grpc, inputs: random}}
  - loadtest: {{name: resnet, model: resnet50, protocol: grpc, concurrency: [1, 4],
               duration: 1s, warmup: 0, output: results.json}}
  - undeploy: {{name: resnet}}
""")
    result = run(script, env)
    assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()
    done = {r["action"]: r["data"] for r in records(result, "ok")}
    assert list(done) == ["check_repository", "deploy", "wait", "infer", "loadtest",
                          "undeploy"]
    assert done["deploy"]["verdict"]["state"] == "Ready"
    assert [s["level"] for s in done["loadtest"]["steps"]] == [1, 4]
    assert (tmp_path / "results.json").exists() and (tmp_path / "results.csv").exists()
