"""The hosts a user names for a cluster: the model a script, the form and the state share.

A host is an address with optional SSH settings; anything left out comes from
``~/.ssh/config`` (``backends/ssh`` resolves it) and then from ssh's own defaults, as
``ssh HOST`` would. Roles follow k3s's words: ``server`` (control plane) and ``agent``
(worker); ``control-plane`` and ``worker`` are accepted as kubeadm users write them.
No field holds a secret: ``key`` is a path, never key material.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Role = Literal["server", "agent"]
ROLE_ALIASES = {"server": "server", "control-plane": "server", "controlplane": "server",
                "master": "server", "agent": "agent", "worker": "agent", "node": "agent"}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")
_JUMP = re.compile(r"^(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]{0,31})@)?"
                   r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:@\s]+)(?::(?P<port>\d{1,5}))?$")


def address_problem(text: str) -> str:
    """Why ``text`` is not a usable host address ("" when it is): an IP or a DNS name."""
    if not text:
        return "an address is needed"
    try:
        ipaddress.ip_address(text.strip("[]"))
        return ""
    except ValueError:
        pass
    if _HOSTNAME.match(text):
        return ""
    return f"{text[:60]!r} is neither an IP address nor a host name"


def _address(value: object) -> object:
    if isinstance(value, str):
        problem = address_problem(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()
    return value


def _user(value: object) -> object:
    if isinstance(value, str) and not _USER.match(value):
        raise ValueError(f"{value[:40]!r} is not a valid user name")
    return value


def _roles(value: object) -> object:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        roles = []
        for role in value:
            if not isinstance(role, str) or role.lower() not in ROLE_ALIASES:
                raise ValueError(f"unknown role {str(role)[:40]!r}: use server or agent")
            if ROLE_ALIASES[role.lower()] not in roles:
                roles.append(ROLE_ALIASES[role.lower()])
        return roles
    return value


def _jump(value: object) -> object:
    if isinstance(value, str) and value:
        match = _JUMP.match(value.strip())
        if not match or address_problem(match["host"]) or (
                match["port"] and not 0 < int(match["port"]) < 65536):
            raise ValueError(f"{value[:60]!r} is not a jump host: use [USER@]HOST[:PORT]")
        return value.strip()
    return value


Address = Annotated[str, BeforeValidator(_address)]
UserName = Annotated[str, BeforeValidator(_user)]
Roles = Annotated[list[Role], BeforeValidator(_roles)]
JumpHost = Annotated[str, BeforeValidator(_jump)]


class HostSpec(BaseModel):
    """One host of a cluster, as a script or the form names it.

    ``address`` may also be a ``Host`` alias of ``~/.ssh/config``: its HostName, User, Port,
    IdentityFile and ProxyJump fill what is left out here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: Address
    port: int | None = Field(default=None, ge=1, le=65535)  # None: ssh config, then 22
    user: UserName | None = None  # None: ssh config, then the local user
    key: str | None = None  # a private key file; None: ssh config, the agent, ~/.ssh/id_*
    jump: JumpHost | None = None  # ProxyJump: [USER@]HOST[:PORT]
    roles: Roles = Field(default_factory=lambda: ["server"])
    name: str | None = Field(default=None, max_length=63)  # shown in tables; default address

    @model_validator(mode="after")
    def _some_role(self) -> HostSpec:
        if not self.roles:
            raise ValueError("a host needs a role: server or agent")
        return self

    @property
    def label(self) -> str:
        """How tables and events name the host."""
        return self.name or self.address


def servers(hosts: list[HostSpec]) -> list[HostSpec]:
    return [h for h in hosts if "server" in h.roles]


def agents(hosts: list[HostSpec]) -> list[HostSpec]:
    return [h for h in hosts if "agent" in h.roles and "server" not in h.roles]


def hosts_problem(hosts: list[HostSpec], path: str) -> str:
    """Why this host list cannot make a cluster on ``path`` ("" when it can)."""
    if path == "k3s-local":
        return "" if not hosts else "k3s-local runs on this machine: it takes no hosts"
    if not hosts:
        return f"{path} needs at least one host"
    if not servers(hosts):
        return "one host needs the server role (the control plane)"
    labels = [h.label for h in hosts]
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate:
        return f"host {duplicate!r} is listed twice"
    if path == "kubeadm-ssh" and len(servers(hosts)) > 1:
        return ("kubeadm-ssh makes one control-plane node; give the other hosts the agent "
                "role (a highly available control plane needs a load balancer in front)")
    return ""
