"""The Ansible playbooks, shipped as package data (``mlops_tui.playbooks``) so an installed
mlops-tui finds them; ``backends/ansible/playbooks.py`` locates them."""
