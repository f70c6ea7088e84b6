"""The provision screen's form: what each field accepts, and the action requests it makes.

Pure functions over what a user typed. A host is checked by :class:`HostSpec` itself and
the whole form by the ``provision`` action's own request model (handed in: the action
table's, or a test's), so the form, a script and the action agree on one set of rules;
the checks here only come first where a message can be clearer (control characters, a key
file that is not there, a name thousands of characters long). Nothing here touches a widget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlops_tui.backends.provisioning.contract import PATHS
from mlops_tui.backends.provisioning.hosts import HostSpec, hosts_problem
from mlops_tui.tui.screens.deploy_form import count_problem, name_problem
from mlops_tui.tui.screens.deploy_render import printable

_PATH_SUMMARIES = {
    "k3s-local": "k3s, a single node on this machine",
    "k3s-ssh": "k3s on your servers, over SSH",
    "kubeadm-ssh": "kubeadm on your servers, over SSH",
}
#: (path, what it makes), in the contract's order: the contract owns the list of paths
PATH_CHOICES: tuple[tuple[str, str], ...] = tuple((p, _PATH_SUMMARIES.get(p, p)) for p in PATHS)
HOST_FIELDS = ("address", "port", "user", "key", "roles")
FORM_FIELDS = ("cluster", "hosts", "airgap")
MAX_TEXT = 4096
_SHOWN = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def text_problem(text: str, what: str) -> str | None:
    """Control characters or an absurd length in any typed field, or None."""
    if _CONTROL.search(text):
        return f"{what} contains control characters"
    if len(text) > MAX_TEXT:
        return f"{what} is longer than {MAX_TEXT:,} characters"
    return None


def key_problem(text: str) -> str | None:
    """An optional private key path: it must be a file here (the key never leaves it)."""
    text = text.strip()
    if not text:
        return None
    problem = text_problem(text, "the key path")
    if problem:
        return problem
    if not Path(text).expanduser().is_file():
        return f"no key file at {_quoted(text)}"
    return None


def airgap_problem(text: str) -> str | None:
    """An optional air-gap bundle folder: it must exist."""
    text = text.strip()
    if not text:
        return None
    problem = text_problem(text, "the bundle folder")
    if problem:
        return problem
    if not Path(text).expanduser().is_dir():
        return f"no folder at {_quoted(text)}"
    return None


def validation_problems(exc: ValidationError, known: tuple[str, ...]) -> dict[str, str]:
    """Field → first message of a pydantic error; a location not in ``known`` goes under
    ``""`` with its path."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        location = error.get("loc") or ()
        where = str(location[0]) if location else ""
        message = printable(str(error.get("msg", "")).removeprefix("Value error, "))
        key = where if where in known else ""
        if key == "" and location:
            message = f"{'.'.join(str(p) for p in location)}: {message}"
        problems.setdefault(key, message)
    return problems


def host_from_fields(texts: dict[str, str]) -> tuple[HostSpec | None, dict[str, str]]:
    """A host from the host dialog's fields (address, port, user, key, roles).

    Returns:
        The host and no problems, or None and field → problem (``roles`` for a host with
        none, ``""`` for what names no field).
    """
    texts = {key: texts.get(key, "") for key in HOST_FIELDS}
    problems = {key: p for key in HOST_FIELDS
                if (p := text_problem(texts[key], f"the {key}"))}
    port = texts["port"].strip()
    if "port" not in problems and port:
        problem = count_problem(port, "the port", 1, 65535)
        if problem:
            problems["port"] = problem
    if "key" not in problems and (problem := key_problem(texts["key"])):
        problems["key"] = problem
    # the model checks the rest (a field already refused above is left to its default),
    # so every problem shows at once
    roles = [word for word in re.split(r"[,\s]+", texts["roles"].strip()) if word]
    values: dict[str, Any] = {"address": texts["address"].strip(),
                              "port": int(port) if port and "port" not in problems else None,
                              "user": texts["user"].strip() or None,
                              "key": texts["key"].strip() or None,
                              "roles": roles}
    values = {key: value for key, value in values.items() if key not in problems}
    if "address" in problems:
        values["address"] = "localhost"  # a stand-in: its own problem is already told
    try:
        host = HostSpec.model_validate(values)
    except ValidationError as exc:
        found = validation_problems(exc, HOST_FIELDS)
        if "" in found:  # the model's own check (its only one: a role is needed)
            found.setdefault("roles", found.pop(""))
        return None, {**found, **problems}
    return (None, problems) if problems else (host, {})


def host_fields(host: HostSpec | None) -> dict[str, str]:
    """The dialog's texts for ``host`` (a new host: port 22, role server)."""
    if host is None:
        return {"address": "", "port": "22", "user": "", "key": "", "roles": "server"}
    return {"address": host.address, "port": str(host.port or ""), "user": host.user or "",
            "key": host.key or "", "roles": ", ".join(host.roles)}


@dataclass
class ProvisionForm:
    """What the screen has gathered: the path, then the form's fields."""

    path: str = "k3s-ssh"
    cluster: str = ""
    hosts: list[HostSpec] = field(default_factory=list)
    gpu: bool = False
    monitoring: bool = False
    airgap: str = ""
    accept_new_host_keys: bool = False

    @property
    def over_ssh(self) -> bool:
        return self.path != "k3s-local"

    def problems(self) -> dict[str, str]:
        """Field → problem, from the checks that come before the request model's."""
        checks = {
            "cluster": name_problem(self.cluster, "the cluster name"),
            "hosts": hosts_problem(self.hosts if self.over_ssh else [], self.path) or None,
            "airgap": airgap_problem(self.airgap),
        }
        return {key: problem for key, problem in checks.items() if problem}

    def request_problems(self, request_model: type | None) -> dict[str, str]:
        """Field → problem from the provision request model (the action's own rules)."""
        if request_model is None:
            return {}
        try:
            request_model.model_validate(self.provision_arguments(plan_only=True))
        except ValidationError as exc:
            return validation_problems(exc, FORM_FIELDS)
        return {}

    def _hosts(self) -> list[dict[str, Any]]:
        return [host.model_dump(exclude_none=True) for host in self.hosts] if (
            self.over_ssh) else []

    def preflight_arguments(self) -> dict[str, object]:
        """The ``preflight`` request (known_hosts: the action's default)."""
        return {"hosts": self._hosts(), "path": self.path,
                "accept_new_host_keys": self.accept_new_host_keys}

    def provision_arguments(self, *, plan_only: bool, resume: bool = True) -> dict[str, object]:
        """The ``provision`` request (call after :meth:`problems` found none)."""
        return {"cluster": self.cluster.strip(), "path": self.path, "hosts": self._hosts(),
                "gpu": self.gpu, "monitoring": self.monitoring,
                "airgap": self.airgap.strip() or None, "plan_only": plan_only,
                "resume": resume, "accept_new_host_keys": self.accept_new_host_keys}

    def destroy_arguments(self, confirm: str) -> dict[str, object]:
        return {"cluster": self.cluster.strip(), "confirm": confirm}


def form_from_state(state: Any) -> ProvisionForm:
    """The form a cluster made before was made with (its state: cluster, path, hosts and
    the options gpu, monitoring, airgap); unreadable parts are left at their defaults."""
    options = getattr(state, "options", None) or {}
    hosts = [h for h in (getattr(state, "hosts", None) or []) if isinstance(h, HostSpec)]
    path = str(getattr(state, "path", "") or "")
    return ProvisionForm(path=path if path in PATHS else "k3s-ssh",
                         cluster=str(getattr(state, "cluster", "") or ""), hosts=hosts,
                         gpu=bool(options.get("gpu", False)),
                         monitoring=bool(options.get("monitoring", False)),
                         airgap=str(options.get("airgap") or ""))
