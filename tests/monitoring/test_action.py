"""The monitoring action against the real kube-apiserver (with its scheduler and
controllers): dry run first, then for real, then again with nothing to change; the panels'
discovery finds the Prometheus it made; images overridable; bad input refused clearly.

The nodes here are fake (no kubelet runs a pod), so Deployments never become available:
the installs use ``wait: false``, except where the rollout can finish without a running
pod (a DaemonSet no node is selected for) or where the timeout is the point.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from mlops_tui.backends.actions import ActionContext, EventKind, Failure, execute
from mlops_tui.backends.actions.monitoring import SPECS, MonitoringRequest, install_monitoring
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus import create_source
from tests.backends.conftest import wait_for

pytestmark = pytest.mark.apiserver
(SPEC,) = SPECS


def run(backend, **args) -> list:
    """Every event of one monitoring step, as the script runner and the TUI get them."""
    request = MonitoringRequest.model_validate(args)

    async def collect() -> list:
        return [e async for e in execute(SPEC, ActionContext(backend), request)]
    return asyncio.run(collect())


def last(events: list):
    assert events[-1].kind in (EventKind.OK, EventKind.FAILED), events
    return events[-1]


def messages(events: list, kind: EventKind) -> list[str]:
    return [e.message for e in events if e.kind == kind]


@pytest.fixture
def stack_namespace(control_plane) -> Iterator[str]:
    """A namespace name nobody made yet; afterwards it and the stack's cluster-wide RBAC
    are removed."""
    name = f"mon-{secrets.token_hex(4)}"
    yield name
    api = control_plane.admin_client()
    rbac = client.RbacAuthorizationV1Api(api)
    for app in ("prometheus", "dcgm-exporter"):
        for delete in (rbac.delete_cluster_role, rbac.delete_cluster_role_binding):
            try:
                delete(f"mlops-tui-{name}-{app}")
            except ApiException as exc:
                if exc.status != 404:
                    raise
    control_plane.delete_namespace(name)


def test_dry_run_into_a_new_namespace_changes_nothing(make_backend, admin_api,
                                                      stack_namespace) -> None:
    events = run(make_backend(), namespace=stack_namespace, dry_run=True)
    end = last(events)
    assert end.kind == EventKind.OK, events
    assert end.message == "dry run: 17 objects valid, 17 would change"
    assert {o["result"] for o in end.data["objects"]} == {"created"}
    assert f"namespace {stack_namespace} does not exist yet: its objects were checked " \
           "against the schema, not dry-run on the server" in messages(events, EventKind.WARNING)
    assert any(line.startswith("+++ merged/deployment.apps/prometheus")
               for line in messages(events, EventKind.OUTPUT))
    core = client.CoreV1Api(admin_api)
    with pytest.raises(ApiException) as missing:
        core.read_namespace(stack_namespace)
    assert missing.value.status == 404
    with pytest.raises(ApiException):
        client.RbacAuthorizationV1Api(admin_api).read_cluster_role(
            f"mlops-tui-{stack_namespace}-prometheus")


def test_install_then_again_and_the_panels_find_prometheus(make_backend, admin_api,
                                                           control_plane,
                                                           stack_namespace) -> None:
    backend = make_backend()
    mirror = "mirror.test:5000"
    own_grafana = f"{mirror}/team/grafana:11.2.2-custom"
    options = {"namespace": stack_namespace, "registry": mirror,
               "images": {"grafana": own_grafana}, "wait": False}
    first = run(backend, **options)
    end = last(first)
    assert end.kind == EventKind.OK, first
    assert end.message == f"Prometheus at {stack_namespace}/prometheus:9090"
    assert end.data["grafana"] == f"{stack_namespace}/grafana:3000"
    assert len(end.data["objects"]) == 17
    assert {o["result"] for o in end.data["objects"]} == {"created"}

    apps = client.AppsV1Api(admin_api)
    images = {d.metadata.name: d.spec.template.spec.containers[0].image
              for d in apps.list_namespaced_deployment(stack_namespace).items}
    images |= {d.metadata.name: d.spec.template.spec.containers[0].image
               for d in apps.list_namespaced_daemon_set(stack_namespace).items}
    assert images == {"prometheus": f"{mirror}/prometheus/prometheus:v2.53.2",
                      "grafana": own_grafana,
                      "dcgm-exporter": f"{mirror}/nvidia/k8s/dcgm-exporter:"
                                       "4.4.1-4.6.0-ubuntu22.04",
                      "node-exporter": f"{mirror}/prometheus/node-exporter:v1.8.2"}
    binding = client.RbacAuthorizationV1Api(admin_api).read_cluster_role_binding(
        f"mlops-tui-{stack_namespace}-prometheus")
    assert binding.subjects[0].namespace == stack_namespace

    # again: the server's dry run says nothing would change, and nothing does
    again = run(backend, **options)
    assert last(again).kind == EventKind.OK, again
    assert {o["result"] for o in last(again).data["objects"]} == {"unchanged"}
    assert messages(again, EventKind.OUTPUT) == []  # no diff
    preview = run(backend, **options, dry_run=True)
    assert last(preview).message == "dry run: 17 objects valid, 0 would change"

    # the panels' discovery: the API server's service proxy to the service just made
    source = asyncio.run(create_source(MetricsSettings(), make_backend()))
    try:
        assert source.describe() == f"{stack_namespace}/prometheus via the API server"
        assert source.url == (f"{control_plane.url}/api/v1/namespaces/{stack_namespace}/"
                              "services/http:prometheus:web/proxy")
    finally:
        asyncio.run(source.close())


def test_a_changed_option_reconfigures_and_rolls_prometheus(make_backend, admin_api,
                                                            stack_namespace) -> None:
    backend = make_backend()
    options = {"namespace": stack_namespace, "components": ["prometheus"], "wait": False}
    assert last(run(backend, **options)).kind == EventKind.OK
    changed = run(backend, **options, scrape_interval="30s")
    results = {(o["kind"], o["name"]): o["result"] for o in last(changed).data["objects"]}
    assert results[("ConfigMap", "prometheus-config")] == "configured"
    assert results[("Deployment", "prometheus")] == "configured"  # the config hash rolls it
    assert results[("Service", "prometheus")] == "unchanged"
    diff = messages(changed, EventKind.OUTPUT)
    assert any(line.startswith("+") and "scrape_interval: 30s" in line for line in diff)


def test_the_dcgm_exporter_lands_on_gpu_nodes_only(make_backend, admin_api, control_plane,
                                                   stack_namespace) -> None:
    gpu, plain = f"gpu-{secrets.token_hex(3)}", f"cpu-{secrets.token_hex(3)}"
    control_plane.add_node(gpu, gpus=1, labels={"nvidia.com/gpu.present": "true"},
                           taints=[{"key": "nvidia.com/gpu", "value": "present",
                                    "effect": "NoSchedule"}])
    control_plane.add_node(plain)
    try:
        events = run(make_backend(), namespace=stack_namespace,
                     components=["dcgm", "node-exporter"], wait=False)
        assert last(events).kind == EventKind.OK, events
        assert "no node is labelled" not in " ".join(messages(events, EventKind.WARNING))
        core = client.CoreV1Api(admin_api)

        def placed(app: str) -> set[str]:
            pods = core.list_namespaced_pod(
                stack_namespace, label_selector=f"app.kubernetes.io/name={app}").items
            return {p.spec.node_name for p in pods}
        # the DaemonSet controller makes one pod per chosen node (the tainted GPU node too)
        wait_for(lambda: {gpu, plain} <= placed("node-exporter"), 30, "node-exporter pods")
        wait_for(lambda: gpu in placed("dcgm-exporter"), 30, "the DCGM exporter's pod")
        assert plain not in placed("dcgm-exporter")
    finally:
        control_plane.remove_node(gpu)
        control_plane.remove_node(plain)


def test_a_rollout_is_followed_until_done(make_backend, control_plane,
                                          stack_namespace) -> None:
    # no node carries this label: the DaemonSet wants no pod, so its rollout completes
    label = f"mlops-tui.test/gpu-{secrets.token_hex(3)}=yes"
    events = run(make_backend(), namespace=stack_namespace, components=["dcgm"],
                 gpu_node_label=label, timeout="60s")
    assert last(events).kind == EventKind.OK, events
    assert f"no node is labelled {label}" in messages(events, EventKind.WARNING)[0]
    progress = messages(events, EventKind.PROGRESS)
    assert "daemonset.apps/dcgm-exporter: daemon set \"dcgm-exporter\" successfully " \
           "rolled out" in progress


def test_a_rollout_that_cannot_finish_times_out_as_a_check(make_backend,
                                                           stack_namespace) -> None:
    events = run(make_backend(), namespace=stack_namespace, components=["prometheus"],
                 timeout="3s")
    end = last(events)
    assert (end.kind, end.failure) == (EventKind.FAILED, Failure.CHECK), events
    assert end.message == (
        f"timed out after 3s waiting for {stack_namespace}/deployments/prometheus (its "
        'rollout): Waiting for deployment "prometheus" rollout to finish: 0 of 1 updated '
        "replicas are available...")


def test_read_only_and_bad_input_are_refused_clearly(make_backend, stack_namespace) -> None:
    refused = run(make_backend(readonly=True), namespace=stack_namespace)
    assert (last(refused).failure, last(refused).message) == (
        Failure.ENVIRONMENT, f"read-only mode: monitoring in {stack_namespace} refused")
    # a read-only session may still look
    assert last(run(make_backend(readonly=True), namespace=stack_namespace,
                    dry_run=True)).kind == EventKind.OK
    for fields, message in (
            ({"components": ["prometheus", "loki"]}, "components.1"),
            ({"registry": "https://mirror"}, "without https://"),
            ({"images": {"alertmanager": "x"}}, "unknown component 'alertmanager'"),
            ({"timeout": "forever"}, "must be a duration"),
            ({"wait": "maybe"}, "wait"),
            ({"namespace": "Monitoring!"}, "invalid namespace")):
        with pytest.raises(ValidationError, match=message):
            MonitoringRequest.model_validate(fields)


def test_install_monitoring_is_one_complete_stream(make_backend, stack_namespace) -> None:
    ctx = ActionContext(make_backend())

    async def collect() -> list:
        return [e async for e in install_monitoring(ctx, namespace=stack_namespace,
                                                    components=["grafana"], wait=False)]
    events = asyncio.run(collect())
    assert events[0].kind == EventKind.STARTED
    assert [e.kind for e in events].count(EventKind.OK) == 1 and events[-1].kind == EventKind.OK
    assert events[-1].message == f"{stack_namespace}: 6 objects applied"
