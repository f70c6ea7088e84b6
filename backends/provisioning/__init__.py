"""The provisioning seam: what every provisioner (k3s, kubeadm over SSH, AWS) shares.

``contract`` is the Provisioner protocol and its step events, ``hosts`` the host model a
user writes, ``state`` the per-cluster state under the XDG state dir, ``engine`` the step
runner that makes every provisioner resumable, ``kubeconfig`` the merge into
``~/.kube/config``. No module here imports a concrete backend: the action layer composes
SSH, Ansible and Kubernetes into provisioners on top of this.
"""
