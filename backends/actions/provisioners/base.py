"""What the k3s and kubeadm provisioners share: settings, state, hosts, the sudo password.

A provisioner is a list of :class:`Step` s (``steps()`` for apply, ``destroy_steps()`` for
destroy) run by the provisioning engine, which makes every run resumable and holds the
cluster's lock. The settings a run needs again later (destroy, resume) are the state's
``options``; the sudo password never is: it is asked for (``ask_secret``) when preflight
found that sudo wants one, and kept in memory for this run only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning import engine
from mlops_tui.backends.provisioning.contract import (
    ClusterStatus,
    HostKeyDecision,
    PlanStep,
    Step,
    StepEvent,
)
from mlops_tui.backends.provisioning.hosts import HostSpec, agents, servers
from mlops_tui.backends.provisioning.state import ClusterState, StateStore

KUBECONFIG_COPY = "kubeconfig"  # the admin kubeconfig, in the cluster's state dir (0600)
SUDO_ASKS = "sudo_asks"  # scratch: the hosts whose sudo wants a password (names only)
GPU_HOSTS = "gpu_hosts"  # scratch: the hosts preflight found GPUs on, with their count
AskSecret = Callable[[str], Awaitable[str | None]]


@dataclass
class Settings:
    """What a cluster is made of: kept in the state (``options``), so destroy and resume
    need only the cluster's name. No secret: keys and known_hosts are paths."""

    cluster: str
    path: str
    hosts: list[HostSpec] = field(default_factory=list)
    gpu: bool = False
    monitoring: bool = False
    airgap: str | None = None  # absolute
    k3s_version: str | None = None
    kubernetes_version: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    known_hosts: str = str(Path("~/.ssh/known_hosts").expanduser())
    ssh_config: str | None = None

    def options(self) -> dict[str, Any]:
        """The state's ``options``: everything but the name, the path and the hosts."""
        values = asdict(self)
        for own in ("cluster", "path", "hosts"):
            values.pop(own)
        return values

    @classmethod
    def from_state(cls, state: ClusterState) -> Settings:
        known = {k: v for k, v in state.options.items() if k in cls.__dataclass_fields__}
        return cls(cluster=state.cluster, path=state.path, hosts=list(state.hosts), **known)

    @property
    def local(self) -> bool:
        return self.path == "k3s-local"


class ClusterProvisioner:
    """The Provisioner contract on the engine; subclasses list the steps.

    Args:
        settings: the cluster.
        store: where its state lives.
        ask_secret: asks for the sudo password ("sudo password for HOST"); None: none can
            be had, so a host whose sudo wants one fails with what to do.
        ask_host_key: decides on an unknown host key (the TUI asks the user).
        accept_new_host_keys: take unknown host keys (a script's choice).
        check_mode: run the playbooks in Ansible's check mode and skip the steps that need
            the installed cluster (tests; not part of any request).
        kubeconfig_target: where the kubeconfig is merged (None: kubectl's file).
        playbooks: a step id → playbook (a shipped name or a path) override (tests).
    """

    # what a path names differently (k3s.py, kubeadm.py)
    distribution = ""
    playbook_name = ""
    preflight_path = "k3s-ssh"
    server_step, server_title = "server", "server"
    agents_step, agents_title = "agents", "agents"
    admin_kubeconfig = ""
    install_containerd = False

    def __init__(self, settings: Settings, *, store: StateStore,
                 ask_secret: AskSecret | None = None, ask_host_key: HostKeyDecision | None = None,
                 accept_new_host_keys: bool = False, check_mode: bool = False,
                 kubeconfig_target: Path | None = None,
                 playbooks: dict[str, str] | None = None) -> None:
        self.settings, self.store = settings, store
        self.ask_secret, self.ask_host_key = ask_secret, ask_host_key
        self.accept_new_host_keys, self.check_mode = accept_new_host_keys, check_mode
        self.kubeconfig_target = kubeconfig_target
        self.playbooks = dict(playbooks or {})
        self.state: ClusterState | None = None  # the one the engine runs with
        self._sudo_password: str | None = None  # this run only, never stored
        self._resolved: list[Any] | None = None

    # -- the contract ---------------------------------------------------------------------
    @property
    def cluster(self) -> str:
        return self.settings.cluster

    @property
    def path(self) -> str:
        return self.settings.path

    def steps(self) -> list[Step]:
        """The apply steps (see ``plan``), with their bodies."""
        from mlops_tui.backends.actions.provisioners.plan import apply_steps

        return apply_steps(self)

    def destroy_steps(self) -> list[Step]:
        from mlops_tui.backends.actions.provisioners.plan import destroy_steps

        return destroy_steps(self)

    def plan(self) -> list[PlanStep]:
        return [step.plan for step in self.steps()]

    async def apply(self, *, resume: bool = True) -> AsyncIterator[StepEvent]:
        self.state = self._state_for_apply()
        async with aclosing(engine.run_steps(self.steps(), store=self.store, state=self.state,
                                             resume=resume)) as events:
            async for event in events:
                yield event

    async def destroy(self) -> AsyncIterator[StepEvent]:
        state = self.store.load(self.cluster)
        if state is None:
            raise ConfigError(f"no cluster named {self.cluster!r} in {self.store.root}")
        self.state = state
        async with aclosing(engine.run_destroy(self.destroy_steps(), store=self.store,
                                               state=state)) as events:
            async for event in events:
                yield event

    async def status(self) -> ClusterStatus:
        state = self.store.load(self.cluster)
        if state is None:
            first = self.plan()[0].id if self.plan() else None
            return ClusterStatus(self.cluster, self.path, "planned", next_step=first,
                                 hosts=tuple(h.label for h in self.settings.hosts))
        return state.status([step.id for step in self.plan()])

    async def kubeconfig(self) -> str:
        copy = self.store.root / self.cluster / KUBECONFIG_COPY
        try:
            return copy.read_text()
        except FileNotFoundError:
            raise ConfigError(f"cluster {self.cluster!r} has no kubeconfig yet: apply it "
                              "first") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {copy}: {exc.strerror or exc}") from None

    # -- what the steps share -------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        """The cluster's private state dir (0700): Ansible runs, the kubeconfig copy."""
        return self.store.dir(self.cluster)

    @property
    def known_hosts(self) -> Path:
        return Path(self.settings.known_hosts).expanduser()

    @property
    def ssh_config(self) -> Path | None:
        return Path(self.settings.ssh_config).expanduser() if self.settings.ssh_config else None

    def servers(self) -> list[HostSpec]:
        return servers(self.settings.hosts)

    def agents(self) -> list[HostSpec]:
        return agents(self.settings.hosts)

    def host_labels(self) -> tuple[str, ...]:
        return ("this machine",) if self.settings.local else tuple(
            h.label for h in self.settings.hosts)

    def resolved(self) -> list[Any]:
        """The hosts as ``~/.ssh/config`` resolves them (HostName, User, Port, keys, jump).

        Raises:
            ConfigError: the ssh config is unusable (more than one jump host, say).
        """
        if self._resolved is None:
            from mlops_tui.backends.ssh.config import resolve

            self._resolved = [resolve(host, self.ssh_config) for host in self.settings.hosts]
        return self._resolved

    def inventory(self) -> dict[str, Any]:
        from mlops_tui.backends.ansible import inventory

        if self.settings.local:
            return inventory.build([], known_hosts=self.known_hosts, local=True)
        return inventory.build(self.resolved(), known_hosts=self.known_hosts,
                               roles={h.label: h.roles for h in self.settings.hosts})

    def variables(self, scratch: dict[str, Any]) -> dict[str, Any]:
        """The playbooks' variables (the request's ``extra_vars`` go over them)."""
        return {"mlops_cluster": self.cluster, "kubernetes_distribution": self.distribution,
                "airgap_dir": self.settings.airgap or ""}

    def smoke_runtime_class(self) -> str | None:
        """The RuntimeClass GPU pods need (None: the NVIDIA runtime is the default)."""
        return None

    def server_address(self) -> str:
        """Where this machine reaches the API server: the first server's address as ssh
        resolves it (127.0.0.1 for k3s-local)."""
        if self.settings.local:
            return "127.0.0.1"
        return self.resolved()[self.settings.hosts.index(self.servers()[0])].hostname

    async def read_admin_file(self, path: str, password: str | None) -> str:
        """A root-only file of the first server (the admin kubeconfig).

        Raises:
            ConnectionFailed, ConfigError: the host or sudo refused.
        """
        if self.settings.local:
            from mlops_tui.backends.actions.provisioners.local import read_root_file

            return await read_root_file(path, password)
        from mlops_tui.backends.ssh.session import SshSession

        session = await SshSession.open(self.servers()[0], known_hosts=self.known_hosts,
                                        decide=self.ask_host_key,
                                        accept_new=self.accept_new_host_keys,
                                        ssh_config=self.ssh_config)
        async with session as ssh:
            data = await ssh.read_file(path, sudo=True, sudo_password=password)
        return data.decode("utf-8", "replace")

    def playbook(self, step: str, default: str) -> str:
        return self.playbooks.get(step, default)

    async def sudo_password(self, scratch: dict[str, Any]) -> str | None:
        """The sudo password, asked for once a run and only when preflight found a host
        whose sudo wants one.

        Raises:
            ConfigError: one is needed and none could be had (says how to give it).
        """
        asking = scratch.get(SUDO_ASKS) or []
        if not asking or self._sudo_password is not None:
            return self._sudo_password
        answer = await self.ask_secret(f"sudo password for {', '.join(asking)}") \
            if self.ask_secret is not None else None
        if not answer:
            raise ConfigError(f"sudo on {', '.join(asking)} needs a password: set "
                              "MLOPS_TUI_SUDO_PASSWORD or answer the prompt")
        self._sudo_password = answer
        return answer

    def remember_sudo_password(self, password: str | None) -> None:
        """Keep the password preflight was given, for this run's later steps."""
        if password:
            self._sudo_password = password

    # -- state ----------------------------------------------------------------------------
    def _state_for_apply(self) -> ClusterState:
        """The state to apply with: the existing one when it is this cluster (its options
        brought up to date), a new one when there is none or it was destroyed.

        Raises:
            ConfigError: the name is taken by a cluster made otherwise (another path or
                other hosts); a newer mlops-tui wrote the state.
        """
        existing = self.store.load(self.cluster)
        options = self.settings.options()
        if existing is None or existing.phase == "destroyed":
            return ClusterState(cluster=self.cluster, path=self.path,
                                hosts=list(self.settings.hosts), options=options)
        if existing.path != self.path or existing.hosts != self.settings.hosts:
            made = existing.path + (" on " + ", ".join(h.label for h in existing.hosts)
                                    if existing.hosts else "")
            raise ConfigError(f"cluster {self.cluster!r} already exists ({made}): destroy "
                              f"it first (destroy: {{cluster: {self.cluster}, confirm: "
                              f"{self.cluster}}}) or choose another name")
        if existing.options != options:  # other choices (gpu, monitoring): run it all again
            existing.options, existing.completed = options, []
        return existing
