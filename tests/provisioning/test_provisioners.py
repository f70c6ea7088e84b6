"""The real provisioners on REAL hosts (sshd in a network namespace, ansible-runner), in
Ansible's check mode: the namespace shares this machine's filesystem, so the playbooks
would install packages and change kernel settings of the test machine itself. The k3s
binary cannot be downloaded here: the air-gap bundle holds a stand-in script named k3s
(the layout is what the playbook checks). The steps that need the installed cluster
(kubeconfig, nodes Ready, the GPU pod, monitoring) are skipped in check mode, and say so.

``check_mode`` and ``playbooks`` (a step's playbook replaced) are the provisioner's own
keyword options, reached here through a ProvisionerSource test backend: the script
schema has neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops_tui.backends.actions import (
    ACTIONS,
    ActionContext,
    EventKind,
    Failure,
    execute,
)
from mlops_tui.backends.actions.provisioners.cluster_steps import rewrite_server
from mlops_tui.backends.actions.provisioners.gpu_smoke import explain_pending
from mlops_tui.backends.provisioning.state import StateStore
from tests.provisioning.support import TestProvisioners

# a playbook that fails while a marker file exists: a step that fails on purpose, then
# passes once the cause is gone (as a host coming back would)
FAILING = """\
- name: Fails on purpose while the marker exists
  hosts: all
  gather_facts: false
  tasks:
    - name: Marker looked at
      ansible.builtin.stat:
        path: "{{ fail_marker }}"
      register: marker
      delegate_to: localhost
    - name: Failed on purpose
      ansible.builtin.fail:
        msg: failing on purpose for the test
      when: marker.stat.exists
"""
PASSING = """\
- name: Does nothing
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: nothing
"""


def context(tmp_path: Path, source: TestProvisioners, **fields: Any) -> ActionContext:
    ctx = ActionContext(source, workdir=tmp_path, state_root=tmp_path / "state", **fields)
    source.ctx = ctx
    return ctx


async def run(ctx: ActionContext, action: str, args: dict[str, Any]) -> list[Any]:
    spec = ACTIONS[action]
    return [event async for event in execute(spec, ctx, spec.request.model_validate(args))]


def steps_of(events: list[Any]) -> dict[str, str]:
    return {s["step"]: s["status"] for s in (events[-1].data or {}).get("steps", [])}


# this machine's root has pyenv shims first on PATH, which Ansible's interpreter discovery
# would pick on the test hosts (they share this filesystem): the system Python instead
HOST_PYTHON = {"ansible_python_interpreter": "/usr/bin/python3"}


def host_args(host: Any, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    config = tmp_path / "ssh_config"
    config.touch()
    extra["extra_vars"] = {**HOST_PYTHON, **extra.get("extra_vars", {})}
    return {"hosts": [{"address": host.address, "port": host.port, "user": host.user,
                       "key": str(host.client_key)}],
            "known_hosts": str(host.known_hosts), "ssh_config": str(config), **extra}


def k3s_bundle(folder: Path) -> Path:
    """An air-gap bundle laid out as k3s.yml expects; ``k3s`` is a stand-in script (no k3s
    binary can be obtained here) and the images tarball is empty."""
    folder.mkdir()
    (folder / "k3s").write_text("#!/bin/sh\necho 'k3s version v1.31.2+k3s1 (stand-in)'\n")
    (folder / "k3s").chmod(0o755)
    (folder / "install.sh").write_text("#!/bin/sh\nexit 0\n")
    (folder / "k3s-airgap-images-amd64.tar").write_bytes(b"")
    return folder


async def test_k3s_ssh_in_check_mode_then_destroy(netns_sshd_host, tmp_path):
    target = tmp_path / "kube" / "config"
    ctx = context(tmp_path, TestProvisioners(check_mode=True, kubeconfig_target=target))
    args = host_args(netns_sshd_host, tmp_path, cluster="lab", path="k3s-ssh",
                     airgap=str(k3s_bundle(tmp_path / "bundle")))
    made = await run(ctx, "provision", args)
    assert made[-1].kind is EventKind.OK, [e.message for e in made if e.kind is EventKind.OUTPUT]
    steps = steps_of(made)
    assert steps["preflight"] == "ok"
    assert steps["prerequisites"] in ("ok", "changed")  # check mode: what it would change
    assert steps["k3s-server"] in ("ok", "changed")
    assert steps["k3s-agents"] == "skipped" and steps["gpu"] == "skipped"
    for later in ("kubeconfig", "nodes-ready", "gpu-smoke", "monitoring"):
        assert steps[later] == "skipped"
    reasons = {e.data["step"]: e.message for e in made if isinstance(e.data, dict)
               and e.data.get("status") == "skipped"}
    assert "check mode" in reasons["kubeconfig"] and "no agents" in reasons["k3s-agents"]
    lines = [e.message for e in made if e.kind is EventKind.OUTPUT]
    assert any(line.startswith("k3s-server: ") and netns_sshd_host.address in line
               or "[" in line for line in lines)
    state = StateStore(tmp_path / "state").load("lab")
    assert state is not None and state.phase == "ready" and state.options["airgap"]
    assert not target.exists()  # check mode: nothing merged

    gone = await run(ctx, "destroy", {"cluster": "lab", "confirm": "lab"})
    assert gone[-1].kind is EventKind.OK, gone[-1].message
    assert steps_of(gone) == {"reset": steps_of(gone)["reset"], "kubeconfig": "skipped"}
    assert StateStore(tmp_path / "state").load("lab").phase == "destroyed"


async def test_a_failed_step_resumes_from_itself(netns_sshd_host, tmp_path):
    failing, passing = tmp_path / "failing.yml", tmp_path / "passing.yml"
    failing.write_text(FAILING)
    passing.write_text(PASSING)
    marker = tmp_path / "fail-now"
    marker.touch()
    source = TestProvisioners(check_mode=True, playbooks={"prerequisites": str(passing),
                                                          "k3s-server": str(failing)})
    ctx = context(tmp_path, source)
    args = host_args(netns_sshd_host, tmp_path, cluster="lab", path="k3s-ssh",
                     extra_vars={"fail_marker": str(marker)})
    first = await run(ctx, "provision", args)
    assert first[-1].kind is EventKind.FAILED and first[-1].failure is Failure.CHECK
    assert first[-1].message.startswith("step k3s-server failed: ")
    assert netns_sshd_host.address in first[-1].message  # the host is named
    assert "failing on purpose" in first[-1].message
    assert steps_of(first) == {"preflight": "ok", "prerequisites": "ok",
                               "k3s-server": "failed"}
    state = StateStore(tmp_path / "state").load("lab")
    assert state.phase == "failed" and state.completed == ["preflight", "prerequisites"]

    marker.unlink()  # the cause is gone
    second = await run(ctx, "provision", args)
    assert second[-1].kind is EventKind.OK, second[-1].message
    again = steps_of(second)
    assert again["preflight"] == again["prerequisites"] == "skipped"  # done before
    assert again["k3s-server"] == "ok"
    assert StateStore(tmp_path / "state").load("lab").phase == "ready"


async def test_sudo_password_is_asked_once_and_never_stored(sshd_host, sudo_user,
                                                           tmp_path):
    passing = tmp_path / "passing.yml"
    passing.write_text(PASSING)
    asked: list[str] = []

    async def ask_secret(prompt: str) -> str | None:
        asked.append(prompt)
        return sudo_user.password

    source = TestProvisioners(check_mode=True, playbooks={"prerequisites": str(passing),
                                                          "k3s-server": str(passing)})
    ctx = context(tmp_path, source, ask_secret=ask_secret)
    args = host_args(sshd_host, tmp_path, cluster="pw", path="k3s-ssh")
    args["hosts"][0]["user"] = sudo_user.name
    events = await run(ctx, "provision", args)
    # this machine's ports decide whether preflight passes (another test's API server may
    # hold 6443); the sudo check itself must have passed with the password
    lines = [e.message for e in events if e.kind is EventKind.OUTPUT]
    assert any("sudo: with a password" in line for line in lines), lines
    assert asked == [f"sudo password for {sshd_host.address}"]
    state_dir = tmp_path / "state"
    for file in state_dir.rglob("*"):
        if file.is_file():
            assert sudo_user.password not in file.read_text(errors="replace"), file
    assert all(sudo_user.password not in str(e.message) for e in events)


def test_the_kubeconfig_points_at_the_server():
    text = yaml.safe_dump({"apiVersion": "v1", "clusters": [
        {"name": "default", "cluster": {"server": "https://127.0.0.1:6443",
                                        "certificate-authority-data": "Q0E="}}]})
    assert yaml.safe_load(rewrite_server(text, "10.0.0.5"))["clusters"][0]["cluster"][
        "server"] == "https://10.0.0.5:6443"
    assert yaml.safe_load(rewrite_server(text, "fd00::5"))["clusters"][0]["cluster"][
        "server"] == "https://[fd00::5]:6443"


def _node(name: str, address: str, gpus: str | None) -> dict[str, Any]:
    allocatable = {"cpu": "8"} | ({"nvidia.com/gpu": gpus} if gpus is not None else {})
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address}],
                       "allocatable": allocatable}}


def test_a_pending_gpu_pod_is_explained():
    # recorded shapes of the scheduler's event and of nodes; a real scheduler with GPUs
    # cannot run here
    insufficient = [{"reason": "FailedScheduling", "message": "0/2 nodes are available: "
                     "2 Insufficient nvidia.com/gpu."}]
    nodes = [_node("gpu-1", "10.0.0.5", None), _node("cpu-1", "10.0.0.6", None)]
    why = explain_pending(insufficient, nodes, {"10.0.0.5"})
    assert "device plugin not running on gpu-1" in why
    assert "no node advertises a free GPU: is the device plugin running? (kubectl -n " \
           "kube-system get ds nvidia-device-plugin-daemonset)" in why
    advertised = [_node("gpu-1", "10.0.0.5", "1")]
    assert explain_pending(insufficient, advertised, {"10.0.0.5"}).startswith(
        "no node advertises a free GPU")
    assert explain_pending([], advertised, {"gpu-1"}) == \
        "the pod is Pending (no scheduler event yet)"
