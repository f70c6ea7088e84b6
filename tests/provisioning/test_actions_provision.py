"""The preflight / provision / destroy actions: against a REAL sshd (tests/servers/sshd.py)
for preflight and host keys, the real provisioners for plans, the state and its lock, and
the demo backend's simulated provisioner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlops_tui.backends.actions import ACTIONS, ActionContext, EventKind, Failure, execute
from mlops_tui.backends.actions.provision import DestroyRequest, ProvisionRequest
from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.provisioning.state import ClusterState, StateStore


class NoCluster:
    """What the script runner hands a step that needs no cluster."""

    name = "no-cluster"
    readonly = False


def context(tmp_path: Path, backend: Any = None, **fields: Any) -> ActionContext:
    return ActionContext(backend or NoCluster(), workdir=tmp_path,
                         state_root=tmp_path / "state", **fields)


async def run(ctx: ActionContext, action: str, args: dict[str, Any]) -> list[Any]:
    spec = ACTIONS[action]
    return [event async for event in execute(spec, ctx, spec.request.model_validate(args))]


def host_args(host: Any, **extra: Any) -> dict[str, Any]:
    return {"address": host.address, "port": host.port, "user": host.user,
            "key": str(host.client_key), **extra}


def preflight_args(host: Any, tmp_path: Path, known_hosts: Path, **extra: Any) -> dict:
    empty = tmp_path / "ssh_config"
    empty.touch()  # never the machine's ~/.ssh/config
    return {"hosts": [host_args(host)], "known_hosts": str(known_hosts),
            "ssh_config": str(empty), **extra}


async def test_preflight_on_a_real_host_gives_the_table(sshd_host, tmp_path):
    events = await run(context(tmp_path), "preflight",
                       preflight_args(sshd_host, tmp_path, sshd_host.known_hosts))
    end = events[-1]
    # this machine's own resources and ports decide ok or a failed check; never an
    # environment error: the host was reached and sudo works (root)
    assert end.failure is not Failure.ENVIRONMENT, end.message
    table = end.data["hosts"]
    assert [row["host"] for row in table] == [sshd_host.address]
    checks = {c["name"]: c for c in table[0]["checks"]}
    assert checks["reachable"]["status"] == "ok"
    assert checks["sudo"]["status"] == "ok"
    assert sshd_host.host_key_fingerprint in checks["reachable"]["value"]
    lines = [e.message for e in events if e.kind is EventKind.OUTPUT]
    assert any(line.startswith(f"✓ {sshd_host.address} reachable: ") for line in lines)


async def test_preflight_refuses_an_unknown_host_key(sshd_host, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.touch()
    events = await run(context(tmp_path), "preflight",
                       preflight_args(sshd_host, tmp_path, empty))
    end = events[-1]
    assert end.kind is EventKind.FAILED and end.failure is Failure.ENVIRONMENT
    assert end.message.startswith(f"{sshd_host.address}: ") and "\n" not in end.message
    assert empty.read_text() == ""  # nothing recorded


async def test_preflight_accepts_a_new_key_when_asked(sshd_host, tmp_path):
    known = tmp_path / "known_hosts"
    known.touch()
    events = await run(context(tmp_path), "preflight", preflight_args(
        sshd_host, tmp_path, known, accept_new_host_keys=True))
    assert events[-1].failure is not Failure.ENVIRONMENT, events[-1].message
    assert sshd_host.known_hosts_name in known.read_text()


async def test_the_tui_decides_on_an_unknown_key(sshd_host, tmp_path):
    known = tmp_path / "known_hosts"
    known.touch()
    offers = []

    async def decide(offer):
        offers.append(offer)
        return False

    events = await run(context(tmp_path, ask_host_key=decide), "preflight",
                       preflight_args(sshd_host, tmp_path, known))
    assert events[-1].failure is Failure.ENVIRONMENT
    assert [o.fingerprint for o in offers] == [sshd_host.host_key_fingerprint]


async def test_plan_only_lists_the_steps_and_changes_nothing(tmp_path):
    events = await run(context(tmp_path), "provision", {
        "cluster": "lab", "path": "kubeadm-ssh", "plan_only": True, "gpu": True,
        "hosts": [{"address": "10.0.0.5"}, {"address": "10.0.0.6", "roles": ["agent"]}]})
    end = events[-1]
    assert end.kind is EventKind.OK
    assert [s["id"] for s in end.data["plan"]] == [
        "preflight", "prerequisites", "kubeadm-init", "kubeadm-join", "gpu", "kubeconfig",
        "nodes-ready", "gpu-smoke", "monitoring"]
    assert end.data["plan"][3]["hosts"] == ["10.0.0.6"] or end.data["plan"][3]["hosts"] == (
        "10.0.0.6",)
    assert not (tmp_path / "state").exists()  # no state, no lock, nothing connected
    outputs = [e.message for e in events if e.kind is EventKind.OUTPUT]
    assert outputs[0].startswith("1. preflight: ") and len(outputs) == 9


async def test_k3s_local_plans_without_hosts(tmp_path):
    events = await run(context(tmp_path), "provision",
                       {"cluster": "here", "path": "k3s-local", "plan_only": True})
    plan = events[-1].data["plan"]
    assert plan[2]["id"] == "k3s-server" and plan[2]["hosts"] in (["this machine"],
                                                                 ("this machine",))


def test_requests_refuse_what_cannot_work():
    with pytest.raises(ValidationError, match="confirm must repeat the cluster name"):
        DestroyRequest(cluster="lab", confirm="lab2")
    with pytest.raises(ValidationError, match="takes no hosts"):
        ProvisionRequest(cluster="lab", path="k3s-local", hosts=[{"address": "10.0.0.5"}])
    with pytest.raises(ValidationError, match="needs at least one host"):
        ProvisionRequest(cluster="lab", path="k3s-ssh")
    with pytest.raises(ValidationError, match="looks like a secret"):
        ProvisionRequest(cluster="lab", path="k3s-local", extra_vars={"sudo_password": "x"})
    with pytest.raises(ValidationError, match="invalid cluster name"):
        ProvisionRequest(cluster="Lab_1", path="k3s-local")
    with pytest.raises(ValidationError, match="kubernetes_version is for kubeadm-ssh"):
        ProvisionRequest(cluster="lab", path="k3s-local", kubernetes_version="v1.31.2")
    request = ProvisionRequest(cluster="lab", path="kubeadm-ssh", hosts=[{"address": "h1"}],
                               extra_vars={"kubeadm_ignore_preflight_errors": ["Swap"],
                                           "kubeadm_kubelet_supervisor": "process"})
    assert request.extra_vars["kubeadm_ignore_preflight_errors"] == ["Swap"]


async def test_an_airgap_folder_that_is_missing_is_an_environment_error(tmp_path):
    events = await run(context(tmp_path), "provision",
                       {"cluster": "lab", "path": "k3s-local", "airgap": "no-such-bundle"})
    assert events[-1].failure is Failure.ENVIRONMENT
    assert "no-such-bundle is not a folder" in events[-1].message


async def test_a_second_concurrent_apply_is_refused(tmp_path):
    store = StateStore(tmp_path / "state")
    store.save(ClusterState(cluster="lab", path="k3s-local"))
    with store.lock("lab"):  # another apply of lab is running
        events = await run(context(tmp_path), "provision",
                           {"cluster": "lab", "path": "k3s-local"})
    assert events[-1].failure is Failure.ENVIRONMENT
    assert "is being applied by" in events[-1].message


async def test_a_name_taken_by_another_cluster_is_refused(tmp_path):
    StateStore(tmp_path / "state").save(ClusterState(cluster="lab", path="k3s-local"))
    events = await run(context(tmp_path), "provision",
                       {"cluster": "lab", "path": "k3s-ssh", "hosts": [{"address": "h1"}]})
    assert events[-1].failure is Failure.ENVIRONMENT
    assert "already exists (k3s-local)" in events[-1].message


async def test_destroy_of_an_unknown_cluster_is_an_environment_error(tmp_path):
    events = await run(context(tmp_path), "destroy", {"cluster": "nope", "confirm": "nope"})
    assert events[-1].failure is Failure.ENVIRONMENT
    assert "no cluster named 'nope'" in events[-1].message


async def test_read_only_refuses_provision_but_not_its_plan(tmp_path):
    class ReadOnly(NoCluster):
        readonly = True

    ctx = context(tmp_path, ReadOnly())
    refused = await run(ctx, "provision", {"cluster": "lab", "path": "k3s-local"})
    assert refused[-1].failure is Failure.ENVIRONMENT and "read-only" in refused[-1].message
    planned = await run(ctx, "provision", {"cluster": "lab", "path": "k3s-local",
                                           "plan_only": True})
    assert planned[-1].kind is EventKind.OK


async def test_the_demo_provisions_nothing_through_the_same_actions(tmp_path):
    ctx = context(tmp_path, DemoBackend(frozen=True))
    pre = await run(ctx, "preflight", {"hosts": [{"address": "10.0.0.5"}]})
    assert pre[-1].kind is EventKind.OK
    assert all("demo: not contacted" in c["value"] for c in pre[-1].data["hosts"][0]["checks"])
    made = await run(ctx, "provision", {"cluster": "lab", "path": "k3s-ssh", "gpu": True,
                                        "hosts": [{"address": "10.0.0.5"}]})
    assert made[-1].kind is EventKind.OK
    steps = {s["step"]: s for s in made[-1].data["steps"]}
    assert steps["k3s-agents"]["status"] == "skipped"
    assert steps["k3s-server"]["message"] == "demo: nothing is installed"
    fractions = [e.fraction for e in made if e.kind is EventKind.PROGRESS]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    again = await run(ctx, "provision", {"cluster": "lab", "path": "k3s-ssh",
                                         "hosts": [{"address": "10.0.0.5"}]})
    assert {s["status"] for s in again[-1].data["steps"]} == {"skipped"}  # resumed: all done
    gone = await run(ctx, "destroy", {"cluster": "lab", "confirm": "lab"})
    assert gone[-1].kind is EventKind.OK
    assert not (tmp_path / "state").exists()  # the demo writes no state


async def test_step_events_carry_the_step_for_the_screen(tmp_path):
    ctx = context(tmp_path, DemoBackend(frozen=True))
    events = await run(ctx, "provision", {"cluster": "lab", "path": "k3s-local"})
    carried = [e.data for e in events if e.kind in (EventKind.PROGRESS, EventKind.OUTPUT)
               and isinstance(e.data, dict) and "step" in e.data]
    assert {d["status"] for d in carried} >= {"started", "ok", "skipped", "output"}
    assert carried[0]["step"] == "preflight"


def test_every_provisioning_action_runs_without_a_cluster():
    for name in ("preflight", "provision", "destroy"):
        assert ACTIONS[name].needs_cluster is False
    assert ACTIONS["provision"].mutating and ACTIONS["destroy"].mutating
    assert not ACTIONS["preflight"].mutating

