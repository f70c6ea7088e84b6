"""kubeadm for real: playbooks/kubeadm.yml provisions a host over SSH from the air-gap
bundle, through the Ansible runner the provisioners use.

The host (tests/cluster/kubeadm_host.py) is sshd + containerd in a network namespace with
private overlays over /etc, /var, /usr and /root: kubeadm, the kubelet and the playbook
write there for real and this machine's files stay as they were. One test walks the whole
life: init → node Ready (its admin.conf read back over SSH) → a busybox pod runs → a second
run changes nothing → reset → a second reset changes nothing → the host's files unchanged.
Measured here (2 cores, another suite running): first run 47 s (node Ready 2 s after it),
pod Running 11 s later, second run 19 s, reset 15 s, second reset 11 s: ~105 s in all.

Skips where the bundle or a tool is missing (``bash tests/cluster/build-kubeadm.sh``
builds it); fails instead under ``MLOPS_TUI_REQUIRE_SERVERS=1``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_tui.backends.ansible import playbooks
from mlops_tui.backends.ansible.events import PlaybookResult
from mlops_tui.backends.ansible.runner import run_playbook
from tests.cluster.kubeadm_host import (
    NODE_IP,
    NODE_NAME,
    KubeadmHost,
    missing_reason,
)
from tests.cluster.node import image_archive
from tests.provisioning.support import running_kubeadm_host

#: reset.yml runs it for kubeadm clusters with the prerequisites' reset; here alone
KUBEADM_RESET = playbooks.path("kubeadm_reset.yml")
READY_TIMEOUT_S = 120.0
POD_TIMEOUT_S = 60.0
BUSYBOX = "localhost/mlops-tui-test/busybox:1.0"


@pytest.fixture(scope="module")
def kubeadm_host() -> Any:
    reason = missing_reason()
    if reason is None and image_archive("busybox") is None:
        reason = "no busybox image (bash tests/cluster/build-node.sh)"
    yield from running_kubeadm_host(reason)


def _play(host: KubeadmHost, playbook: str | Path, timings: dict[str, float], key: str
          ) -> PlaybookResult:
    """Run ``playbook`` through the runner; its result (and the time it took)."""
    assert host.workdir is not None

    async def run() -> PlaybookResult:
        result = None
        async for event in run_playbook(playbook, inventory=host.inventory(),
                                        extravars=host.playbook_vars(),
                                        workdir=host.workdir / "ansible", timeout=400):
            if event.kind == "stats":
                result = event.data
        assert result is not None, f"{playbook}: no final stats event"
        return result

    t0 = time.monotonic()
    result = asyncio.run(run())
    timings[key] = round(time.monotonic() - t0, 1)
    return result


def _kubeconfig(host: KubeadmHost, tmp_path: Path) -> Path:
    """admin.conf read back over SSH (as the provisioner reads it)."""
    res = host.ssh("cat /etc/kubernetes/admin.conf")
    assert res.returncode == 0, res.stderr
    conf = yaml.safe_load(res.stdout)
    assert conf["clusters"][0]["cluster"]["server"] == f"https://{NODE_IP}:6443"
    path = tmp_path / "admin.conf"
    path.write_text(res.stdout)
    path.chmod(0o600)
    return path


def _wait(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # noqa: BLE001 - not there yet
            last = e
        time.sleep(1)
    pytest.fail(f"{what} not reached in {timeout:.0f}s (last error: {last!r})", pytrace=False)


def _busybox_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "busybox", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                            "command": ["sleep", "3600"]}],
            "tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists",
                             "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,  # its token may not exist yet
        },
    }


def test_kubeadm_playbook_for_real(kubeadm_host: KubeadmHost, tmp_path: Path) -> None:
    from kubernetes import client, config

    host, timings = kubeadm_host, {}
    t0 = time.monotonic()

    first = _play(host, "kubeadm.yml", timings, "first_run")
    assert first.rc == 0, first.error
    assert first.stats[NODE_NAME]["changed"] > 0

    api = config.new_client_from_config(str(_kubeconfig(host, tmp_path)))
    core = client.CoreV1Api(api)

    def node_ready() -> bool:
        node = core.read_node(NODE_NAME)
        return any(c.type == "Ready" and c.status == "True"
                   for c in node.status.conditions or [])

    _wait("node Ready", node_ready, READY_TIMEOUT_S)
    timings["node_ready"] = round(time.monotonic() - t0, 1)
    readyz = api.call_api(*api.param_serialize(method="GET", resource_path="/readyz"))
    assert readyz.status == 200 and readyz.read() == b"ok"

    # the test image, imported as the bundle's are (nothing can be pulled)
    res = host.ctr("images", "import", str(image_archive("busybox")))
    assert res.returncode == 0, res.stderr
    # the controller-manager makes the "default" ServiceAccount only once it is ready,
    # which takes 60-110 s here (TESTING.md): the test makes it rather than wait
    try:
        core.create_namespaced_service_account("default", {"metadata": {"name": "default"}})
    except client.ApiException as e:
        assert e.status == 409, e  # made meanwhile
    core.create_namespaced_pod("default", _busybox_pod())
    _wait("busybox pod Running",
          lambda: core.read_namespaced_pod("busybox", "default").status.phase == "Running",
          POD_TIMEOUT_S)
    timings["pod_running"] = round(time.monotonic() - t0, 1)
    pod = core.read_namespaced_pod("busybox", "default")
    assert pod.spec.node_name == NODE_NAME and pod.status.pod_ip.startswith("10.252.0.")

    second = _play(host, "kubeadm.yml", timings, "second_run")
    assert second.rc == 0, second.error
    assert second.changed == 0, second.stats  # idempotent
    core.delete_namespaced_pod("busybox", "default", grace_period_seconds=0)

    reset = _play(host, KUBEADM_RESET, timings, "reset")
    assert reset.rc == 0, reset.error
    assert reset.changed > 0
    # inside the node: kubeadm's state and the bundle's binaries are gone, the loop ended
    left = host.ssh("ls -d /etc/kubernetes /var/lib/etcd /var/lib/kubelet /usr/local/bin/kubeadm "
                    "/run/mlops-tui-kubelet.pid 2>/dev/null; true")
    assert left.stdout.strip() == ""
    assert not (host.cni_conf_dir / "10-mlops-tui-bridge.conflist").exists()
    assert "localhost/kubeadm/" not in host.ctr("images", "ls", "-q").stdout

    again = _play(host, KUBEADM_RESET, timings, "second_reset")
    assert again.rc == 0, again.error
    assert again.changed == 0, again.stats
    timings["total"] = round(time.monotonic() - t0, 1)
    print(f"\nkubeadm for real, seconds: {timings}")
