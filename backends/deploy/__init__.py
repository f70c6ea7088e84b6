"""Deploying a model server, the pure part: the spec a user gives, the manifests built from
it, their schema check, the rollback target of a Deployment, and the readiness verdict.

Nothing here talks to a cluster; the actions that apply, wait and roll back build on it.
"""
