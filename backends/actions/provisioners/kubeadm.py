"""kubeadm over SSH (kubeadm-ssh): containerd from the distribution, kubeadm / kubelet /
kubectl from a package repository or an air-gap bundle, ``kubeadm init`` with a CNI on the
server, ``kubeadm join`` on the agents.

Every variable of the kubeadm playbooks can be set through the request's ``extra_vars``
(``kubeadm_bundle_dir``, ``kubeadm_ignore_preflight_errors``,
``kubeadm_kubelet_supervisor``, ``kubeadm_containerd_socket`` …: see
``playbooks/roles/kubeadm_common/defaults/main.yml``); they go over the ones set here.
"""

from __future__ import annotations

from typing import Any

from mlops_tui.backends.actions.provisioners.base import ClusterProvisioner


class KubeadmProvisioner(ClusterProvisioner):
    distribution = "kubeadm"
    playbook_name = "kubeadm.yml"
    preflight_path = "kubeadm-ssh"
    server_step, server_title = "kubeadm-init", "kubeadm init"
    agents_step, agents_title = "kubeadm-join", "kubeadm join"
    admin_kubeconfig = "/etc/kubernetes/admin.conf"
    install_containerd = True

    def variables(self, scratch: dict[str, Any]) -> dict[str, Any]:
        values = super().variables(scratch)
        values["install_containerd"] = self.install_containerd
        if self.settings.kubernetes_version:
            values["kubeadm_kubernetes_version"] = self.settings.kubernetes_version
        if self.settings.airgap:
            values["kubeadm_bundle_dir"] = self.settings.airgap
        return values
