"""The requests of the preflight, provision and destroy actions (the script steps' schema).

The shapes follow the issue's script steps::

    - preflight: {hosts: [...], known_hosts: ~/.ssh/known_hosts, accept_new_host_keys: false}
    - provision: {cluster: lab, path: k3s-ssh, hosts: [...], gpu: true, monitoring: true,
                  airgap: ./bundle, plan_only: false}
    - destroy: {cluster: lab, confirm: lab}

No field holds a secret: host keys and known_hosts are paths, the sudo password is asked
for at run time (``ActionContext.ask_secret``) and ``extra_vars`` refuses secret-looking
names.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from mlops_tui.backends import names
from mlops_tui.backends.actions.base import Request
from mlops_tui.backends.provisioning.hosts import HostSpec, hosts_problem

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MAX_HOSTS = 100
_VERSION = re.compile(r"^v?\d{1,3}\.\d{1,3}\.\d{1,3}([+-][A-Za-z0-9.+-]{1,40})?$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# names whose values would be secrets: extra_vars are recorded in the state and passed to
# Ansible as extra variables, which is no place for one (the sudo password is asked for)
_SECRET_NAME = re.compile(r"password|passwd|passphrase|(^|_)pass($|_)|secret|token|credential|"
                          r"private_?key|api_?key", re.IGNORECASE)

PathName = Literal["k3s-local", "k3s-ssh", "kubeadm-ssh"]  # contract.PATHS
ExtraValue = str | int | bool | list[str]


def _cluster(value: object) -> object:
    if isinstance(value, str):
        problem = names.label_problem(value)
        if problem:
            raise ValueError(f"invalid cluster name (it becomes a kubeconfig context and a "
                             f"folder name): {problem}")
    return value


def _version(value: object) -> object:
    if isinstance(value, str) and not _VERSION.match(value.strip()):
        raise ValueError(f"{value[:40]!r} is not a version like v1.31.2 or v1.31.2+k3s1")
    return value.strip() if isinstance(value, str) else value


def _extra_vars(value: dict[str, ExtraValue]) -> dict[str, ExtraValue]:
    for key in value:
        if not _VAR_NAME.match(key):
            raise ValueError(f"{key[:40]!r} is not an Ansible variable name (letters, "
                             "digits and '_', not starting with a digit)")
        if _SECRET_NAME.search(key):
            raise ValueError(f"{key!r} looks like a secret: extra_vars are recorded in the "
                             "cluster's state; the sudo password is asked for at run time")
    return value


def _path_text(value: object) -> object:
    if isinstance(value, str) and (not value.strip() or "\x00" in value):
        raise ValueError("must be a path")
    return value


ClusterName = Annotated[str, BeforeValidator(_cluster)]
Version = Annotated[str, BeforeValidator(_version)]
FilePath = Annotated[str, BeforeValidator(_path_text), Field(max_length=4096)]
Hosts = Annotated[list[HostSpec], Field(max_length=MAX_HOSTS)]
ExtraVars = Annotated[dict[str, ExtraValue], AfterValidator(_extra_vars)]


class SshOptions(Request):
    """How hosts are reached: the known_hosts file, new keys, an ssh config file."""

    known_hosts: FilePath = DEFAULT_KNOWN_HOSTS
    accept_new_host_keys: bool = False  # a script's only way to take an unknown key
    ssh_config: FilePath | None = None  # None: ~/.ssh/config where it exists


class PreflightRequest(SshOptions):
    """``preflight``: one table of checks per host; ``path`` picks the ports checked."""

    hosts: Annotated[Hosts, Field(min_length=1)]
    path: Literal["k3s-ssh", "kubeadm-ssh"] = "k3s-ssh"

    @model_validator(mode="after")
    def _distinct(self) -> PreflightRequest:
        labels = [h.label for h in self.hosts]
        twice = next((x for x in labels if labels.count(x) > 1), None)
        if twice:
            raise ValueError(f"host {twice!r} is listed twice")
        return self


class ProvisionRequest(SshOptions):
    """``provision``: make (or resume making) a cluster; ``plan_only`` shows the steps."""

    cluster: ClusterName
    path: PathName
    hosts: Hosts = Field(default_factory=list)
    gpu: bool = False  # install the NVIDIA toolkit and device plugin on hosts with GPUs
    monitoring: bool = False  # Prometheus, the DCGM exporter and Grafana afterwards
    airgap: FilePath | None = None  # a bundle folder: nothing is downloaded
    plan_only: bool = False  # the plan as the result; nothing is connected or changed
    resume: bool = True  # skip the steps an earlier run completed
    k3s_version: Version | None = None
    kubernetes_version: Version | None = None
    # Ansible variables passed to the playbooks, over the tool's own (kubeadm_bundle_dir,
    # kubeadm_ignore_preflight_errors, kubelet_supervisor, containerd_socket ...); never
    # a secret (refused by name)
    extra_vars: ExtraVars = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> ProvisionRequest:
        problem = hosts_problem(self.hosts, self.path)
        if problem:
            raise ValueError(problem)
        if self.path.startswith("k3s") and self.kubernetes_version:
            raise ValueError("kubernetes_version is for kubeadm-ssh; k3s takes k3s_version")
        if self.path == "kubeadm-ssh" and self.k3s_version:
            raise ValueError("k3s_version is for the k3s paths; kubeadm takes "
                             "kubernetes_version")
        return self


class DestroyRequest(Request):
    """``destroy``: uninstall on every host and forget the cluster; ``confirm`` must repeat
    the cluster's name (as the screen asks it typed)."""

    cluster: ClusterName
    confirm: str

    @model_validator(mode="after")
    def _confirmed(self) -> DestroyRequest:
        if self.confirm != self.cluster:
            raise ValueError(f"confirm must repeat the cluster name ({self.cluster!r}) to "
                             "destroy it")
        return self
