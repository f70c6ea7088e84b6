"""The real provisioners (k3s on this machine, k3s and kubeadm over SSH), composed from the
SSH and Ansible backends on the provisioning engine.

``build`` makes one from a provision request, ``from_state`` from a cluster's state (what
destroy and status need: the request then is only the name). The SSH, Ansible and
Kubernetes code loads only when a step runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.state import StateStore


def _class(path: str) -> type:
    if path in ("k3s-local", "k3s-ssh"):
        from mlops_tui.backends.actions.provisioners.k3s import K3sProvisioner

        return K3sProvisioner
    if path == "kubeadm-ssh":
        from mlops_tui.backends.actions.provisioners.kubeadm import KubeadmProvisioner

        return KubeadmProvisioner
    raise ConfigError(f"unknown provisioning path {path!r}: k3s-local, k3s-ssh or kubeadm-ssh")


def build(request: Any, ctx: Any, **options: Any) -> Any:
    """The provisioner of a ``provision`` request.

    Args:
        request: a ProvisionRequest.
        ctx: the ActionContext (relative paths, the secret and host-key questions, where
            state lives).
        options: ClusterProvisioner's keyword options (check_mode, kubeconfig_target,
            playbooks: tests).

    Raises:
        ConfigError: an unknown path, or an air-gap bundle that is not a folder.
    """
    from mlops_tui.backends.actions.provisioners.base import Settings

    airgap = None
    if request.airgap:
        airgap = str(Path(ctx.path(request.airgap)).expanduser().resolve())
        if not Path(airgap).is_dir():
            raise ConfigError(f"airgap: {request.airgap} is not a folder (the bundle: the k3s "
                              "binary, its images tarball and registries.yaml)")
    settings = Settings(
        cluster=request.cluster, path=request.path, hosts=list(request.hosts),
        gpu=request.gpu, monitoring=request.monitoring, airgap=airgap,
        k3s_version=request.k3s_version, kubernetes_version=request.kubernetes_version,
        extra_vars=dict(request.extra_vars),
        known_hosts=str(Path(ctx.path(request.known_hosts)).expanduser()),
        ssh_config=str(Path(ctx.path(request.ssh_config)).expanduser())
        if request.ssh_config else None)
    return _class(request.path)(
        settings, store=StateStore(ctx.state_root), ask_secret=ctx.ask_secret,
        ask_host_key=ctx.ask_host_key, accept_new_host_keys=request.accept_new_host_keys,
        **options)


def from_state(cluster: str, ctx: Any, **options: Any) -> Any:
    """The provisioner of an existing cluster, from its state.

    Raises:
        ConfigError: no such cluster here; its state is unreadable.
    """
    from mlops_tui.backends.actions.provisioners.base import Settings

    store = StateStore(ctx.state_root)
    state = store.load(cluster)
    if state is None:
        raise ConfigError(f"no cluster named {cluster!r} here (state in {store.root})")
    return _class(state.path)(Settings.from_state(state), store=store,
                              ask_secret=ctx.ask_secret, ask_host_key=ctx.ask_host_key,
                              **options)
