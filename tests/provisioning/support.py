"""What the provisioning tests share: the files a playbook would write on this machine
(the test hosts share its filesystem), and a provisioner source building the real
provisioners with test options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_tui.backends.actions import ActionContext
from mlops_tui.backends.actions.provision import ProvisionRequest
from mlops_tui.backends.actions.provisioners import build, from_state
from tests.cluster.kubeadm_host import KubeadmHost, default_bundle_dir, host_snapshot
from tests.tools import REQUIRE_ENV, required

#: files the playbooks would write on a host: none may appear (or change) here unless a
#: test means to install for real, inside a host's own overlays
PLAYBOOK_FILES = ("/etc/modules-load.d/mlops-tui.conf", "/etc/sysctl.d/90-mlops-tui.conf",
                  "/etc/mlops-tui", "/usr/local/bin/k3s", "/usr/local/share/mlops-tui",
                  "/var/lib/rancher/k3s", "/etc/rancher/k3s", "/etc/containerd/config.toml")


def playbook_files() -> dict[str, tuple[bool, float]]:
    """Whether each of :data:`PLAYBOOK_FILES` exists, and its modification time."""
    return {p: (Path(p).exists(), Path(p).stat().st_mtime if Path(p).exists() else 0.0)
            for p in PLAYBOOK_FILES}


class TestProvisioners:
    """A ProvisionerSource that builds the real provisioners with test options
    (``check_mode``, ``kubeconfig_target``, ``playbooks`` ...)."""

    __test__ = False  # not a pytest class
    readonly = False

    def __init__(self, *, check_mode: bool, **options: Any) -> None:
        self.name = "check-mode" if check_mode else "real-run"
        self.check_mode = check_mode
        self.options = options
        self.ctx: ActionContext | None = None

    def provisioner(self, request: Any) -> Any:
        assert self.ctx is not None
        if isinstance(request, ProvisionRequest):
            return build(request, self.ctx, check_mode=self.check_mode, **self.options)
        return from_state(request.cluster, self.ctx, check_mode=self.check_mode,
                          **self.options)

    def preflight(self, request: Any) -> Any:
        raise AssertionError("not used here")


def running_kubeadm_host(reason: str | None) -> Iterator[KubeadmHost]:
    """A module fixture's body: the kubeadm test host, started, then stopped and checked.

    ``reason`` is why the host cannot run here (None: it can): the tests skip with it, or
    fail under ``MLOPS_TUI_REQUIRE_SERVERS``. After the stop, this machine's view of the
    paths kubeadm writes must be as it was (the host's overlays kept them).
    """
    if reason:
        if required():
            pytest.fail(f"{REQUIRE_ENV} is set but the kubeadm host cannot run: {reason}",
                        pytrace=False)
        pytest.skip(f"kubeadm host unavailable: {reason}")
    before = host_snapshot()
    host = KubeadmHost(default_bundle_dir())
    host.start()
    try:
        yield host
    finally:
        host.stop()
    assert host_snapshot() == before, "the kubeadm host changed this machine's files"
