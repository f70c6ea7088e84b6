"""The apply and wait actions through the Kubernetes backend, against the real apiserver.

No mocks: every request crosses HTTP to the control plane tests/cluster starts (etcd,
kube-apiserver, scheduler, controller-manager v1.20.2). What the server stored is checked
with the official client, not with the code under test. No kubelet runs there: pods stay
Pending, so a Deployment's ``.status.replicas`` reaches N while nothing becomes available;
where a test needs Ready pods, tests/backends/pod_ready.py reports them, as a kubelet would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, Failure, execute
from tests.backends.conftest import wait_for
from tests.backends.pod_ready import mark_ready

pytestmark = pytest.mark.apiserver


def run(backend, action: str, session_namespace: str = "", **args) -> list:
    """Every event of one action, as the script runner and the TUI get them."""
    spec = ACTIONS[action]
    request = spec.request.model_validate(args)
    ctx = ActionContext(backend, namespace=session_namespace)

    async def collect() -> list:
        return [event async for event in execute(spec, ctx, request)]
    return asyncio.run(collect())


def last(events: list):
    assert events[-1].kind in (EventKind.OK, EventKind.FAILED)
    return events[-1]


def lines(events: list) -> list[str]:
    return [e.message for e in events if e.kind == EventKind.OUTPUT]


def deployment(name: str, replicas: int = 2, labels: dict | None = None) -> dict:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "server", "image": "triton:1"}]}}}}


def service(name: str) -> dict:
    # protocol is spelled out: server-side apply on 1.20 needs it (see
    # test_server_side_apply_error_is_one_clear_line)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 8000, "protocol": "TCP"}]}}


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": data}


def write(path: Path, *documents: dict) -> Path:
    path.write_text("".join(f"---\n{yaml.safe_dump(d, sort_keys=False)}" for d in documents))
    return path


def start_line(path: Path, document: int) -> int:
    """The line (1-based) where the ``document``-th (0-based) document of ``path`` starts."""
    separators = [i for i, line in enumerate(path.read_text().splitlines()) if line == "---"]
    return separators[document] + 2


def apps(admin_api) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(admin_api)


def core(admin_api) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(admin_api)


def exists(read, *args) -> bool:
    try:
        read(*args)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


# -- apply ---------------------------------------------------------------------------------------

@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A directory as users keep them: files applied in name order, one with two documents,
    and a file apply ignores."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    write(folder / "10-config.yaml", config_map("web-config", mode="fast"))
    write(folder / "20-web.yml", deployment("web"), service("web"))
    (folder / "README.md").write_text("not a manifest")
    return folder


def test_apply_directory_creates_then_is_unchanged_then_configures(
        make_backend, fresh_namespace, manifests, admin_api):
    backend = make_backend()
    events = run(backend, "apply", fresh_namespace, path=str(manifests))
    done = last(events)
    assert done.kind == EventKind.OK, done.message
    assert done.data == [
        {"kind": "ConfigMap", "name": "web-config", "namespace": fresh_namespace,
         "result": "created"},
        {"kind": "Deployment", "name": "web", "namespace": fresh_namespace,
         "result": "created"},
        {"kind": "Service", "name": "web", "namespace": fresh_namespace, "result": "created"},
    ]
    progress = [(e.message, e.fraction) for e in events if e.kind == EventKind.PROGRESS]
    assert progress == [("configmap/web-config created", pytest.approx(1 / 3)),
                        ("deployment.apps/web created", pytest.approx(2 / 3)),
                        ("service/web created", 1.0)]
    diff = lines(events)
    assert "+++ merged/deployment.apps/web" in diff and "+  replicas: 2" in diff
    assert not any(line.startswith("-") and not line.startswith("---") for line in diff)
    assert apps(admin_api).read_namespaced_deployment("web", fresh_namespace).spec.replicas == 2
    assert core(admin_api).read_namespaced_config_map(
        "web-config", fresh_namespace).data == {"mode": "fast"}
    assert exists(core(admin_api).read_namespaced_service, "web", fresh_namespace)

    again = run(backend, "apply", fresh_namespace, path=str(manifests))
    assert [item["result"] for item in last(again).data] == ["unchanged"] * 3
    assert lines(again) == []

    write(manifests / "20-web.yml", deployment("web", replicas=3), service("web"))
    changed = run(backend, "apply", fresh_namespace, path=str(manifests))
    assert [item["result"] for item in last(changed).data] == [
        "unchanged", "configured", "unchanged"]
    diff = lines(changed)
    assert "--- live/deployment.apps/web" in diff
    assert "-  replicas: 2" in diff and "+  replicas: 3" in diff
    assert len([line for line in diff if line.startswith(("-  ", "+  "))]) == 2
    assert apps(admin_api).read_namespaced_deployment("web", fresh_namespace).spec.replicas == 3


def test_diff_ignores_what_a_controller_writes_meanwhile(make_backend, fresh_namespace,
                                                        tmp_path):
    # right after a Deployment is created its controller writes status and a revision
    # annotation; an apply at that moment must diff only what the manifest changes
    backend = make_backend()
    path = tmp_path / "web.yaml"
    for name in ("web-1", "web-2", "web-3"):
        write(path, deployment(name, replicas=2))
        run(backend, "apply", fresh_namespace, path=str(path))
        write(path, deployment(name, replicas=3))
        events = run(backend, "apply", fresh_namespace, path=str(path))
        changed = [line for line in lines(events)
                   if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
        assert changed == ["-  replicas: 2", "+  replicas: 3"]
        assert last(events).data[0]["result"] == "configured"


def test_dry_run_validates_and_diffs_but_changes_nothing(
        make_backend, fresh_namespace, manifests, admin_api):
    backend = make_backend()
    events = run(backend, "apply", fresh_namespace, path=str(manifests), dry_run=True)
    assert [item["result"] for item in last(events).data] == ["created (dry run)"] * 3
    assert "+  replicas: 2" in lines(events)
    assert not exists(apps(admin_api).read_namespaced_deployment, "web", fresh_namespace)
    assert not exists(core(admin_api).read_namespaced_config_map, "web-config",
                      fresh_namespace)

    run(backend, "apply", fresh_namespace, path=str(manifests))
    write(manifests / "20-web.yml", deployment("web", replicas=5), service("web"))
    events = run(backend, "apply", fresh_namespace, path=str(manifests), dry_run=True,
                 diff=False)
    assert [item["result"] for item in last(events).data] == [
        "unchanged (dry run)", "configured (dry run)", "unchanged (dry run)"]
    assert lines(events) == []  # diff: false
    assert apps(admin_api).read_namespaced_deployment("web", fresh_namespace).spec.replicas == 2


def test_manifest_the_server_rejects_fails_the_step_as_a_check(
        make_backend, fresh_namespace, tmp_path, admin_api):
    # the selector does not match the template's labels: the API server answers 422
    bad = write(tmp_path / "bad.yaml", config_map("before-bad"),
                deployment("web", labels={"app": "other"}))
    done = last(run(make_backend(), "apply", fresh_namespace, path=str(bad)))
    assert done.kind == EventKind.FAILED and done.failure == Failure.CHECK
    assert done.message.startswith(
        f"apply rejected: {bad}:{start_line(bad, 1)}: deployment.apps/web: ")
    assert "selector" in done.message and "does not match template" in done.message
    assert done.data == [{"kind": "ConfigMap", "name": "before-bad",
                          "namespace": fresh_namespace, "result": "created"}]
    assert not exists(apps(admin_api).read_namespaced_deployment, "web", fresh_namespace)


def test_unreadable_manifests_fail_before_anything_changes(
        make_backend, fresh_namespace, tmp_path, admin_api):
    backend = make_backend()
    folder = tmp_path / "broken"
    folder.mkdir()
    write(folder / "a.yaml", config_map("first"))
    (folder / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                   "  name: second\ndata: [unclosed\n")
    done = last(run(backend, "apply", fresh_namespace, path=str(folder)))
    assert done.failure == Failure.ENVIRONMENT
    assert done.message.startswith(f"{folder / 'b.yaml'}:6: invalid YAML")
    assert "\n" not in done.message
    assert not exists(core(admin_api).read_namespaced_config_map, "first", fresh_namespace)

    missing = last(run(backend, "apply", fresh_namespace, path=str(tmp_path / "nope.yaml")))
    assert missing.failure == Failure.ENVIRONMENT
    assert missing.message == f"{tmp_path / 'nope.yaml'}: no such file or directory"

    unknown = write(tmp_path / "unknown.yaml", {"apiVersion": "example.com/v1",
                                                "kind": "Widget", "metadata": {"name": "w"}})
    done = last(run(backend, "apply", fresh_namespace, path=str(unknown)))
    assert done.failure == Failure.ENVIRONMENT
    assert done.message == (f"{unknown}:2: the cluster serves no kind Widget in "
                            "example.com/v1")


def test_conflict_with_another_field_manager_fails_unless_forced(
        make_backend, fresh_namespace, tmp_path, admin_api):
    backend = make_backend()
    ours = write(tmp_path / "ours.yaml", deployment("web", replicas=2))
    assert last(run(backend, "apply", fresh_namespace, path=str(ours))).kind == EventKind.OK
    theirs = write(tmp_path / "theirs.yaml", deployment("web", replicas=5))

    done = last(run(backend, "apply", fresh_namespace, path=str(theirs),
                    field_manager="other-team"))
    assert done.kind == EventKind.FAILED and done.failure == Failure.CHECK
    assert "conflict" in done.message and ".spec.replicas" in done.message
    assert "force: true" in done.message
    assert apps(admin_api).read_namespaced_deployment("web", fresh_namespace).spec.replicas == 2

    done = last(run(backend, "apply", fresh_namespace, path=str(theirs),
                    field_manager="other-team", force=True))
    assert done.kind == EventKind.OK and done.data[0]["result"] == "configured"
    live = apps(admin_api).read_namespaced_deployment("web", fresh_namespace)
    assert live.spec.replicas == 5
    managers = {entry.manager for entry in live.metadata.managed_fields}
    assert {"mlops-tui", "other-team"} <= managers


def test_secret_values_never_reach_the_diff(make_backend, fresh_namespace, tmp_path):
    backend = make_backend()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "stringData": {"password": "hunter2-first"}}
    path = write(tmp_path / "secret.yaml", secret)
    created = run(backend, "apply", fresh_namespace, path=str(path))
    assert last(created).kind == EventKind.OK
    secret["stringData"]["password"] = "hunter2-second"
    write(path, secret)
    changed = run(backend, "apply", fresh_namespace, path=str(path))
    assert last(changed).data[0]["result"] == "configured"
    shown = "\n".join(lines(created) + lines(changed) + [e.message for e in created + changed])
    assert "+  password: <redacted>" in lines(created)
    assert "-  password: <redacted> (before)" in lines(changed)
    assert "+  password: <redacted> (after)" in lines(changed)
    for value in ("hunter2-first", "hunter2-second", "aHVudGVyMi1maXJzdA==",
                  "aHVudGVyMi1zZWNvbmQ="):  # the values and their base64
        assert value not in shown


def test_read_only_refuses_apply_but_allows_a_dry_run(
        make_backend, fresh_namespace, manifests, admin_api):
    backend = make_backend(readonly=True)
    done = last(run(backend, "apply", fresh_namespace, path=str(manifests)))
    assert done.failure == Failure.ENVIRONMENT and "read-only" in done.message
    done = last(run(backend, "apply", fresh_namespace, path=str(manifests), dry_run=True))
    assert done.kind == EventKind.OK
    assert not exists(apps(admin_api).read_namespaced_deployment, "web", fresh_namespace)


def test_lists_and_cluster_scoped_kinds(make_backend, fresh_namespace, tmp_path, admin_api):
    name = f"{fresh_namespace}-extra"
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        config_map("from-list"),
        # a Namespace is cluster-scoped: the session's namespace does not apply to it
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    ]}))
    try:
        done = last(run(make_backend(), "apply", fresh_namespace, path=str(path)))
        assert done.data == [
            {"kind": "ConfigMap", "name": "from-list", "namespace": fresh_namespace,
             "result": "created"},
            {"kind": "Namespace", "name": name, "namespace": "", "result": "created"}]
        assert exists(core(admin_api).read_namespace, name)
    finally:
        try:
            core(admin_api).delete_namespace(name)
        except ApiException:
            pass


def test_namespace_in_the_manifest_must_match_the_one_asked_for(
        make_backend, fresh_namespace, tmp_path):
    cm = config_map("elsewhere")
    cm["metadata"]["namespace"] = "kube-system"
    path = write(tmp_path / "cm.yaml", cm)
    done = last(run(make_backend(), "apply", "", path=str(path), namespace=fresh_namespace))
    assert done.failure == Failure.ENVIRONMENT
    assert "'kube-system' does not match the namespace" in done.message


def test_server_side_apply_error_is_one_clear_line(make_backend, fresh_namespace, tmp_path):
    # v1.20's server-side apply cannot merge a Service port without its protocol (a key of
    # that list) and answers 500; fixed in later releases. The step fails with the server's
    # reason on one line, naming the file and the object.
    svc = service("web")
    del svc["spec"]["ports"][0]["protocol"]
    path = write(tmp_path / "svc.yaml", svc)
    done = last(run(make_backend(), "apply", fresh_namespace, path=str(path)))
    assert done.failure == Failure.CHECK
    assert done.message.startswith(f"apply failed: {path}:2: service/web: ")
    assert 'omits key field "protocol"' in done.message and "\n" not in done.message


# -- wait ----------------------------------------------------------------------------------------

def test_wait_jsonpath_passes_while_rollout_times_out(make_backend, fresh_namespace, tmp_path):
    backend = make_backend()
    run(backend, "apply", fresh_namespace, path=str(write(tmp_path / "d.yaml",
                                                            deployment("web", replicas=2))))
    events = run(backend, "wait", fresh_namespace, kind="deploy", name="web",
                 jsonpath="{.status.replicas}", equals="2", timeout="30s")
    done = last(events)
    assert done.kind == EventKind.OK, done.message
    assert done.message == "{.status.replicas} is 2"
    assert events[1].message == (f"waiting up to 30s for {fresh_namespace}/deployments/web: "
                                 "{.status.replicas} = 2")

    started = time.monotonic()
    events = run(backend, "wait", fresh_namespace, kind="deployments", name="web",
                 **{"for": "rollout"}, timeout="2s")
    took = time.monotonic() - started
    done = last(events)
    assert done.kind == EventKind.FAILED and done.failure == Failure.CHECK
    assert done.message == (
        f"timed out after 2s waiting for {fresh_namespace}/deployments/web (its rollout): "
        'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are '
        "available...")
    assert done.data["state"].endswith("0 of 2 updated replicas are available...")
    assert 1.9 <= took < 6
    progress = [e.message for e in events if e.kind == EventKind.PROGRESS]
    assert progress.count(done.data["state"]) == 1  # said once, not once a poll


@pytest.fixture(scope="module")
def worker_node(control_plane) -> str:
    """A Ready node (no kubelet) for the scheduler to bind pods to."""
    name = "actions-worker"
    if not exists(control_plane.core_v1().read_node, name):
        control_plane.add_node(name)
    return name


def test_wait_rollout_completes_when_pods_report_ready(
        make_backend, fresh_namespace, tmp_path, admin_api, worker_node):
    backend = make_backend()
    run(backend, "apply", fresh_namespace, path=str(write(tmp_path / "d.yaml",
                                                            deployment("web", replicas=2))))
    # the kubelet's part: report the two scheduled pods Running and Ready
    wait_for(lambda: mark_ready(admin_api, fresh_namespace, "app=web") == 0 and len([
        p for p in core(admin_api).list_namespaced_pod(fresh_namespace).items
        if p.status.conditions and any(c.type == "Ready" and c.status == "True"
                                       for c in p.status.conditions)]) == 2,
        timeout=30, what="two Ready pods")
    done = last(run(backend, "wait", fresh_namespace, kind="deploy", name="web",
                    **{"for": "rollout"}, timeout="30s"))
    assert done.kind == EventKind.OK, done.message
    assert done.message == 'deployment "web" successfully rolled out'
    done = last(run(backend, "wait", fresh_namespace, kind="deploy", name="web",
                    **{"for": "ready"}, timeout="10s"))
    assert done.message == "2/2 replicas ready"


def later(seconds: float, action) -> threading.Thread:
    """Run ``action`` in a thread after ``seconds`` (the change a wait is waiting for)."""
    def go() -> None:
        time.sleep(seconds)
        action()
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_wait_keeps_waiting_for_an_object_that_does_not_exist_yet(
        make_backend, fresh_namespace, admin_api):
    backend = make_backend()
    body = deployment("late", replicas=0)
    creator = later(1.5, lambda: apps(admin_api).create_namespaced_deployment(
        fresh_namespace, body))
    events = run(backend, "wait", fresh_namespace, kind="deploy", name="late",
                 **{"for": "ready"}, timeout="30s")
    creator.join(5)
    done = last(events)
    assert done.kind == EventKind.OK, done.message
    assert done.message == "0/0 replicas ready"
    progress = [e.message for e in events if e.kind == EventKind.PROGRESS]
    assert f"{fresh_namespace}/deployments/late does not exist yet" in progress


def test_wait_deleted(make_backend, fresh_namespace, admin_api):
    backend = make_backend()
    core(admin_api).create_namespaced_config_map(fresh_namespace, config_map("doomed"))
    done = last(run(backend, "wait", fresh_namespace, kind="cm", name="doomed",
                    **{"for": "deleted"}, timeout="2s"))
    assert done.failure == Failure.CHECK
    assert done.message.endswith(f"(its deletion): {fresh_namespace}/configmaps/doomed "
                                 "still exists")

    deleter = later(1.0, lambda: core(admin_api).delete_namespaced_config_map(
        "doomed", fresh_namespace))
    done = last(run(backend, "wait", fresh_namespace, kind="cm", name="doomed",
                    **{"for": "deleted"}, timeout="30s"))
    deleter.join(5)
    assert done.kind == EventKind.OK
    assert done.message == f"{fresh_namespace}/configmaps/doomed deleted"
    # already gone: done at once
    done = last(run(backend, "wait", fresh_namespace, kind="cm", name="doomed",
                    **{"for": "deleted"}, timeout="2s"))
    assert done.kind == EventKind.OK


def test_wait_for_what_a_kind_cannot_do_is_a_usage_error(make_backend, fresh_namespace):
    backend = make_backend()
    done = last(run(backend, "wait", fresh_namespace, kind="cm", name="x",
                    **{"for": "rollout"}, timeout="2s"))
    assert done.failure == Failure.ENVIRONMENT
    assert done.message == "configmaps have no rollout to wait for; use for: ready or a jsonpath"
    done = last(run(backend, "wait", fresh_namespace, kind="gadgets", name="x",
                    **{"for": "ready"}))
    assert done.failure == Failure.ENVIRONMENT and done.message == "unknown kind 'gadgets'"
