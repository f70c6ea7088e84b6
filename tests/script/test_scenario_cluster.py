"""The whole ``--script`` path against the real servers: the real ``mlops-tui`` binary runs a
script against the real kube-apiserver (with its scheduler and controller-manager) and the
real Prometheus scraping a real Triton server that the test drives with real inference.

apply a Deployment → wait until it is scheduled → scale → get its pods → assert_metric →
delete → wait until it is gone; then the same file's failures: a check that fails (exit 1),
and an environment that cannot work (exit 2). JSON lines and the JUnit report are read back.

The test nodes are fake (no kubelet runs their pods), so "scheduled" is the wait that can
pass here: ``.status.replicas`` counts the pods the ReplicaSet made and the scheduler bound.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.script.conftest import BINARY, json_lines

pytestmark = pytest.mark.apiserver

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: localhost/test/busybox:1.0
          imagePullPolicy: Never
"""

SCENARIO = """\
namespace: {namespace}
prometheus: {prometheus}
vars: {{replicas: "2"}}
steps:
  - name: the app
    apply: {{path: manifests/web.yaml}}
  - wait: {{kind: deployment, name: web, jsonpath: "{{.status.replicas}}", equals: "1",
           timeout: 60s}}
  - scale: {{kind: deployment, name: web, replicas: "${{replicas}}"}}
  - wait: {{kind: deploy, name: web, jsonpath: "{{.status.replicas}}", equals: "${{replicas}}",
           timeout: 60s}}
  - get: {{kind: pods, selector: app=web, expect_count: 2}}
  - assert_metric: {{query: 'sum(rate(nv_inference_request_success[30s]))', op: ">",
                    value: 0, for: 2s, every: 1s}}
  - delete: {{kind: deployment, name: web}}
  - wait: {{kind: deployment, name: web, for: deleted, timeout: 30s}}
"""

CHECK_FAILS = """\
namespace: {namespace}
steps:
  - apply: {{path: manifests/web.yaml}}
  - name: never ready on a fake node
    wait: {{kind: deployment, name: web, for: rollout, timeout: 2s}}
  - get: {{kind: pods, selector: app=web}}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "web.yaml").write_text(DEPLOYMENT)
    return tmp_path


@pytest.fixture
def env(tmp_path: Path, control_plane) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MLOPS_TUI_", "KUBECONFIG"))}
    return {**clean, "KUBECONFIG": str(control_plane.admin_kubeconfig),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], capture_output=True, env=env, cwd=cwd,
                          timeout=240)


def results(stdout: bytes) -> list[dict]:
    return [r for r in json_lines(stdout) if r["status"] in ("ok", "failed", "skipped",
                                                             "cancelled")]


def test_scenario_passes_end_to_end(workdir, env, fresh_namespace, control_plane,
                                    prometheus_server, triton_server, tmp_path):
    # real inference, so Triton's success counter moves and Prometheus scrapes it (1 s)
    triton_server.infer("resnet50", count=20)
    script = workdir / "ci.yaml"
    script.write_text(SCENARIO.format(namespace=fresh_namespace,
                                      prometheus=prometheus_server.url))
    junit = tmp_path / "report.xml"
    elsewhere = tmp_path / "state"  # paths in the script are the script's, not the cwd's
    elsewhere.mkdir(exist_ok=True)
    result = run(["--script", str(script), "-o", "json", "--junit", str(junit)], env,
                 cwd=elsewhere)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()

    steps = results(result.stdout)
    assert [(r["step"], r["action"], r["status"]) for r in steps] == [
        (1, "apply", "ok"), (2, "wait", "ok"), (3, "scale", "ok"), (4, "wait", "ok"),
        (5, "get", "ok"), (6, "assert_metric", "ok"), (7, "delete", "ok"), (8, "wait", "ok")]
    assert steps[0]["name"] == "the app"
    assert steps[0]["data"] == [{"kind": "Deployment", "name": "web",
                                 "namespace": fresh_namespace, "result": "created"}]
    assert steps[2]["data"] == {"replicas": 2}
    pods = steps[4]["data"]
    assert pods["count"] == 2 and {p["cells"]["STATUS"] for p in pods["items"]} == {"Pending"}
    assert all(p["name"].startswith("web-") for p in pods["items"])
    metric = steps[5]["data"]
    assert metric["held_s"] >= 2 and all(v["value"] > 0 for v in metric["values"])
    assert all(r["error"] is None for r in steps)

    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "0", "0")
    assert len(suite.findall("testcase")) == 8

    # the cluster agrees: the deployment is gone
    status, _ = control_plane.get(
        f"/apis/apps/v1/namespaces/{fresh_namespace}/deployments/web")
    assert status == 404


def test_a_failed_check_exits_1_and_skips_the_rest(workdir, env, fresh_namespace, tmp_path):
    script = workdir / "ci.yaml"
    script.write_text(CHECK_FAILS.format(namespace=fresh_namespace))
    junit = tmp_path / "report.xml"
    result = run(["--script", str(script), "-o", "json", "--junit", str(junit)], env,
                 cwd=workdir)
    assert result.returncode == 1, result.stdout.decode() + result.stderr.decode()
    steps = results(result.stdout)
    assert [(r["step"], r["status"]) for r in steps] == [(1, "ok"), (2, "failed"),
                                                          (3, "skipped")]
    assert "timed out" in steps[1]["error"] or "rollout" in steps[1]["error"]
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert cases[1].find("failure") is not None and cases[2].find("skipped") is not None


@pytest.mark.parametrize(("args", "says"), [
    (["--context", "no-such-context"], "no-such-context"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig"),
])
def test_environment_errors_exit_2_in_one_line(workdir, env, fresh_namespace, args, says):
    script = workdir / "ci.yaml"
    script.write_text(CHECK_FAILS.format(namespace=fresh_namespace))
    result = run([*args, "--script", str(script)], env, cwd=workdir)
    assert result.returncode == 2, result.stdout.decode() + result.stderr.decode()
    err = result.stderr.decode()
    assert says in err and "Traceback" not in err


def test_a_refusing_server_exits_2(workdir, env, fresh_namespace, control_plane, tmp_path):
    """A token the apiserver does not know: 401 at connect, an environment error."""
    config = Path(control_plane.admin_kubeconfig).read_text()
    bad = tmp_path / "bad-kubeconfig"
    import yaml

    data = yaml.safe_load(config)
    for user in data["users"]:
        user["user"] = {"token": "not-a-known-token"}
    bad.write_text(yaml.safe_dump(data))
    script = workdir / "ci.yaml"
    script.write_text(CHECK_FAILS.format(namespace=fresh_namespace))
    result = run(["--script", str(script), "-o", "json"], {**env, "KUBECONFIG": str(bad)},
                 cwd=workdir)
    assert result.returncode == 2, result.stdout.decode() + result.stderr.decode()
    assert "not-a-known-token" not in (result.stdout + result.stderr).decode()
