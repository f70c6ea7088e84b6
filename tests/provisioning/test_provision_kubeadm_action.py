"""The ``provision`` action with ``path: kubeadm-ssh`` for real, end to end, then ``destroy``.

The host is tests/cluster/kubeadm_host.py (sshd + containerd in a network namespace with
private overlays over /etc, /var, /usr and /root); the real KubeadmProvisioner runs every
step against it over SSH, out of check mode: preflight → kubeadm init from the air-gap
bundle → the admin kubeconfig read back with sudo and merged into a kubeconfig file in
tmp → the node Ready through the kubernetes backend. Then a resumed run redoes nothing,
and destroy (reset.yml, the context removed) ends with the state ``destroyed``.

One step does not run as shipped: ``prerequisites``. Its file writes would land in the
namespace's overlays, but ``modprobe``, the sysctl handler and ``swapoff`` act on the
kernel, which the namespace shares with this machine; the test swaps in a playbook that
changes nothing (the provisioner's ``playbooks`` option). reset.yml runs as shipped: in
the namespace it removes files in the overlays only (no marker says containerd was
installed, and no swap line was commented, so its package tasks and ``swapon`` stay off).

Measured here (2 cores, another suite running; two runs): provision 46-48 s (kubeadm init
with 11 changes, the node Ready right after), the resumed run under 0.1 s (every step
"done in an earlier run"), destroy 19-21 s; ~70 s in all with the host's start and stop.

Skips where the bundle or a tool is missing (``bash tests/cluster/build-kubeadm.sh``);
fails instead under ``MLOPS_TUI_REQUIRE_SERVERS=1``.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, execute
from mlops_tui.backends.provisioning.state import StateStore
from tests.ansible.conftest import HOST_PYTHON
from tests.cluster.kubeadm_host import (
    NODE_IP,
    NODE_NAME,
    KubeadmHost,
    host_snapshot,
    missing_reason,
)
from tests.provisioning.support import TestProvisioners, running_kubeadm_host

CLUSTER = "kadm"
# a kubeadm bootstrap token (what ``kubeadm join`` takes)
JOIN_TOKEN = re.compile(rb"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")
# stands in for prerequisites.yml: see the module docstring
NO_PREREQUISITES = """\
- name: Prerequisites left out (they would change this machine's kernel settings)
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: prerequisites left out on the test host
"""


@pytest.fixture(scope="module")
def kubeadm_host() -> Any:
    yield from running_kubeadm_host(missing_reason())


def extra_vars(host: KubeadmHost) -> dict[str, Any]:
    """The host's playbook variables as the request takes them (str, int, bool,
    list[str]): a mapping becomes a Jinja expression Ansible templates back into one."""
    values: dict[str, Any] = {"ansible_python_interpreter": HOST_PYTHON,
                              "install_containerd": False}
    for key, value in host.playbook_vars().items():
        if key == "kubeadm_bundle_dir":
            continue  # the request's airgap sets it
        values[key] = "{{ " + json.dumps(value) + " }}" if isinstance(value, dict) else value
    return values


async def run(ctx: ActionContext, action: str, args: dict[str, Any]) -> list[Any]:
    spec = ACTIONS[action]
    return [event async for event in execute(spec, ctx, spec.request.model_validate(args))]


def steps_of(events: list[Any]) -> dict[str, str]:
    return {s["step"]: s["status"] for s in (events[-1].data or {}).get("steps", [])}


def messages_of(events: list[Any]) -> dict[str, str]:
    return {s["step"]: s["message"] for s in (events[-1].data or {}).get("steps", [])}


def outcome(events: list[Any]) -> str:
    """The last event, with the output lines before it (for a failure message)."""
    lines = [e.message for e in events if e.kind is EventKind.OUTPUT]
    return f"{events[-1].message}\n" + "\n".join(lines[-40:])


def contexts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [c["name"] for c in (yaml.safe_load(path.read_text()) or {}).get("contexts") or []]


async def test_provision_kubeadm_ssh_for_real_then_destroy(kubeadm_host: KubeadmHost,
                                                         tmp_path: Path) -> None:
    host, timings = kubeadm_host, {}
    before = host_snapshot()
    skip_prerequisites = tmp_path / "no-prerequisites.yml"
    skip_prerequisites.write_text(NO_PREREQUISITES)
    target = tmp_path / "kube" / "config"
    source = TestProvisioners(check_mode=False, kubeconfig_target=target,
                     playbooks={"prerequisites": str(skip_prerequisites)})
    state_root = tmp_path / "state"
    ctx = ActionContext(source, workdir=tmp_path, state_root=state_root)
    source.ctx = ctx
    ssh_config = tmp_path / "ssh_config"
    ssh_config.touch()  # not this machine's ~/.ssh/config
    args = {"cluster": CLUSTER, "path": "kubeadm-ssh",
            "hosts": [{"address": NODE_IP, "port": 22, "user": "root",
                       "key": str(host.ssh_key), "roles": ["server"]}],
            "known_hosts": str(host.known_hosts), "ssh_config": str(ssh_config),
            "airgap": str(host.bundle), "extra_vars": extra_vars(host)}

    t0 = time.monotonic()
    made = await run(ctx, "provision", args)
    timings["provision"] = round(time.monotonic() - t0, 1)
    assert made[-1].kind is EventKind.OK, outcome(made)
    steps, why = steps_of(made), messages_of(made)
    assert steps == {"preflight": "ok", "prerequisites": "ok", "kubeadm-init": "changed",
                     "kubeadm-join": "skipped", "gpu": "skipped", "kubeconfig": "changed",
                     "nodes-ready": "ok", "gpu-smoke": "skipped", "monitoring": "skipped"}, why
    assert "no agents" in why["kubeadm-join"] and "gpu: false" in why["gpu"]
    assert "gpu" in why["gpu-smoke"] and "monitoring: false" in why["monitoring"]
    lines = [e.message for e in made if e.kind is EventKind.OUTPUT]
    assert f"nodes-ready: Ready: {NODE_NAME}" in lines

    # the merged context, pointing at the node's API, which answers
    assert contexts(target) == [CLUSTER]
    kubeconfig = yaml.safe_load(target.read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{NODE_IP}:6443"
    with socket.create_connection((NODE_IP, 6443), timeout=5):
        pass
    assert made[-1].data["context"] == CLUSTER and made[-1].data["phase"] == "ready"

    # no secret in the state: no join token anywhere under state_root but the admin
    # kubeconfig copy (credentials by design, 0600), and no "token" in state.json
    state_file = state_root / CLUSTER / "state.json"
    assert b"token" not in state_file.read_bytes().lower()
    for path in state_root.rglob("*"):
        if path.is_file() and path.name != "kubeconfig":
            assert not JOIN_TOKEN.search(path.read_bytes()), f"a join token in {path}"

    t0 = time.monotonic()
    again = await run(ctx, "provision", {**args, "resume": True})
    timings["resumed"] = round(time.monotonic() - t0, 1)
    assert again[-1].kind is EventKind.OK, outcome(again)
    assert set(steps_of(again).values()) == {"skipped"}, messages_of(again)
    assert all("earlier run" in m for m in messages_of(again).values()), messages_of(again)

    t0 = time.monotonic()
    gone = await run(ctx, "destroy", {"cluster": CLUSTER, "confirm": CLUSTER})
    timings["destroy"] = round(time.monotonic() - t0, 1)
    assert gone[-1].kind is EventKind.OK, outcome(gone)
    assert steps_of(gone) == {"reset": "changed", "kubeconfig": "changed"}, messages_of(gone)
    assert CLUSTER not in contexts(target)
    state = StateStore(state_root).load(CLUSTER)
    assert state is not None and state.phase == "destroyed" and state.context is None
    left = host.ssh("ls -d /etc/kubernetes /var/lib/etcd /usr/local/bin/kubeadm "
                    "/run/mlops-tui-kubelet.pid 2>/dev/null; true")
    assert left.stdout.strip() == ""
    assert host_snapshot() == before
    timings["total"] = round(sum(timings.values()), 1)
    print(f"\nprovision kubeadm-ssh for real, seconds: {timings}; steps: {why}")
