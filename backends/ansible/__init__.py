"""Ansible through ansible-runner: the inventory a cluster's hosts make, the playbooks that
ship with the tool, and a run streamed as :class:`~.events.PlaybookEvent` s.

Headless (no textual, no rich); the action layer composes it with the SSH backend.
"""
