"""k3s on this machine (k3s-local: a local connection) or on hosts over SSH (k3s-ssh):
the same playbooks, only the inventory differs."""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.actions.provisioners.base import ClusterProvisioner


class K3sProvisioner(ClusterProvisioner):
    distribution = "k3s"
    playbook_name = "k3s.yml"
    preflight_path = "k3s-ssh"
    server_step, server_title = "k3s-server", "k3s server"
    agents_step, agents_title = "k3s-agents", "k3s agents"
    admin_kubeconfig = "/etc/rancher/k3s/k3s.yaml"
    install_containerd = False  # k3s brings its own

    def variables(self, scratch: dict[str, Any]) -> dict[str, Any]:
        values = super().variables(scratch)
        values["install_containerd"] = self.install_containerd
        if self.settings.k3s_version:
            values["k3s_version"] = self.settings.k3s_version
        return values

    def smoke_runtime_class(self) -> str | None:
        # k3s registers the NVIDIA runtime under a RuntimeClass, not as the default
        return str(self.settings.extra_vars.get("nvidia_runtime_class") or "nvidia")
