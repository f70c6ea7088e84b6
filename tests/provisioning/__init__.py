"""Provisioning: cluster state, the step engine, the kubeconfig merge, the provisioners."""
