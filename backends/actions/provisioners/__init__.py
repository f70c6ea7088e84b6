"""The real provisioners (k3s on this machine, k3s and kubeadm over SSH), composed from the
SSH and Ansible backends on the provisioning engine. ``requests`` holds the action
requests; the factory lands with the provisioners."""
