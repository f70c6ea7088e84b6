"""pytest fixtures for the real Kubernetes control plane (see controlplane.py).

Registered with ``pytest_plugins = ["tests.cluster.fixtures"]`` in tests/conftest.py.

- ``control_plane`` (session): etcd + kube-apiserver + kube-scheduler +
  kube-controller-manager v1.20.2 on 127.0.0.1, one per test session. Skips (reason
  printed in the summary) when the binaries are missing, unless
  ``MLOPS_TUI_REQUIRE_APISERVER`` is set: then it fails.
  Its kube-apiserver serves configmaps without the watch cache
  (``--watch-cache-sizes=configmaps#0``): after ``compact_etcd()`` a configmaps watch
  from an older resourceVersion gets 410 Gone from etcd at once; cached kinds (pods,
  ...) answer 410 only for versions older than the cache window, e.g. after
  ``restart_apiserver()``.
- ``control_plane_with_controllers`` (session): the same object (the scheduler and
  controller-manager cost ~5 s more at start, so every session gets them).
- ``fresh_namespace`` (function): a new namespace name, deleted afterwards (its pods
  force-deleted first: without a kubelet nothing would confirm their termination).
- ``admin_api`` (session): a ``kubernetes.client.ApiClient`` as admin.
- ``real_node`` (session): a real node (kubelet + containerd, see node.py) joined to
  ``control_plane`` as ``real-1``, where pods really run; pods need its toleration and
  node selector (``real_node.place(spec)``) and its local images (``real_node.images``).
  Skips when its kubelet/runtime/images are missing (``tests/cluster/build-node.sh``
  builds them), unless ``MLOPS_TUI_REQUIRE_APISERVER`` is set: then it fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.cluster import node as real_node_mod
from tests.cluster.controlplane import (
    ControlPlane,
    ControlPlaneError,
    find_binaries,
    missing_reason,
)

REQUIRE_ENV = "MLOPS_TUI_REQUIRE_APISERVER"
_skip_reasons: list[str] = []


def _required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    bin_dir = find_binaries()
    if bin_dir is None:
        reason = f"real kube-apiserver unavailable: {missing_reason()}"
        if _required():
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
        if reason not in _skip_reasons:
            _skip_reasons.append(reason)
        pytest.skip(reason)
    # configmaps bypass the apiserver's watch cache (it keeps >= 75 s of history), so a
    # watch from a compacted resourceVersion gets a real 410 Gone from etcd on demand
    cp = ControlPlane(
        bin_dir,
        keep_workdir=bool(os.environ.get("MLOPS_TUI_KEEP_K8S_WORKDIR")),
        extra_apiserver_args=[
            "--watch-cache-sizes=configmaps#0",
        ],
    )
    try:
        cp.start(with_controllers=True)
    except ControlPlaneError as e:
        pytest.fail(f"control plane did not start: {e}", pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def control_plane_with_controllers(control_plane: ControlPlane) -> ControlPlane:
    return control_plane


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane):
    return control_plane.admin_client()


@pytest.fixture(scope="session")
def real_node(control_plane: ControlPlane) -> Iterator[real_node_mod.RealNode]:
    missing = real_node_mod.missing_reason()
    if missing is not None:
        reason = f"real node unavailable: {missing}"
        if _required():
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
        if reason not in _skip_reasons:
            _skip_reasons.append(reason)
        pytest.skip(reason)
    node = real_node_mod.RealNode(
        control_plane, keep_workdir=bool(os.environ.get("MLOPS_TUI_KEEP_K8S_WORKDIR"))
    )
    try:
        node.start()
    except real_node_mod.NodeError as e:
        pytest.fail(f"real node did not start: {e}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def fresh_namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = control_plane.create_namespace(f"t-{secrets.token_hex(4)}")
    yield name
    with contextlib.suppress(Exception):  # cleanup only
        control_plane.delete_namespace(name)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for reason in _skip_reasons:
        terminalreporter.write_line(f"SKIPPED control-plane tests: {reason}", yellow=True)
