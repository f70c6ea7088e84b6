"""User text in request paths: ``-n 'a b/../../x?watch=1'`` must never reach a path.

Namespaces are checked where they are given (the backends refuse them with a ConfigError,
the CLI with exit 2); every path segment is quoted as well, so a name the API server could
hold never reshapes a path: a name with '/' or '?' is looked up as that literal name.
"""

from __future__ import annotations

import asyncio

import pytest

from mlops_tui.backends.demo import DemoBackend
from mlops_tui.backends.errors import ConfigError, NotFound
from mlops_tui.backends.kinds import BY_NAME
from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.kubernetes.informer import collection_path, object_path
from mlops_tui.backends.models import BackendSettings, ResourceRef

HOSTILE = ["a b/../../x?watch=1", "../kube-system", "x?watch=1", "Default", "a/b", "%2e%2e",
           "-x", "x" * 64, "kube-system#frag"]
PODS = BY_NAME[("", "pods")].info()


@pytest.mark.parametrize("namespace", HOSTILE)
def test_paths_refuse_an_invalid_namespace(namespace):
    with pytest.raises(ConfigError, match="invalid namespace"):
        collection_path(PODS, namespace)
    with pytest.raises(ConfigError, match="invalid namespace"):
        object_path(PODS, namespace, "web")


def test_every_segment_is_quoted():
    assert object_path(PODS, "team-a", "web?watch=1#x y", "log") == (
        "/api/v1/namespaces/team-a/pods/web%3Fwatch%3D1%23x%20y/log")
    # resource, group and version come from discovery, a server's answer: quoted too
    odd = BY_NAME[("apps", "deployments")].info().__class__(
        "x/../../secrets", "X", "g/h", "v1?", True)
    assert collection_path(odd, "") == "/apis/g%2Fh/v1%3F/x%2F..%2F..%2Fsecrets"


@pytest.mark.parametrize("namespace", HOSTILE[:3])
def test_the_demo_backend_refuses_it(namespace):
    with pytest.raises(ConfigError, match="invalid namespace"):
        asyncio.run(DemoBackend(BackendSettings(namespace=namespace), frozen=True).connect())
    demo = DemoBackend(BackendSettings(), frozen=True)
    asyncio.run(demo.connect())
    pods = demo.resolve_kind("pods")
    for call in (lambda: demo.set_namespace(namespace), lambda: demo.cache(pods, namespace),
                 lambda: asyncio.run(demo.describe(ResourceRef(pods, "x", namespace))),
                 lambda: asyncio.run(demo.list_objects(pods, namespace))):
        with pytest.raises(ConfigError, match="invalid namespace"):
            call()
    assert demo.info().namespace == ""  # unchanged


@pytest.mark.apiserver
@pytest.mark.parametrize("namespace", HOSTILE[:3])
def test_the_kubernetes_backend_refuses_it(make_backend, control_plane, namespace):
    with pytest.raises(ConfigError, match="invalid namespace"):
        make_backend(namespace=namespace)
    backend = make_backend()
    pods = backend.resolve_kind("pods")
    calls = (lambda: backend.set_namespace(namespace), lambda: backend.cache(pods, namespace),
             lambda: asyncio.run(backend.describe(ResourceRef(pods, "x", namespace))),
             lambda: asyncio.run(backend.get_object(ResourceRef(pods, "x", namespace))),
             lambda: asyncio.run(backend.list_objects(pods, namespace)))
    for call in calls:
        with pytest.raises(ConfigError, match="invalid namespace"):
            call()
    assert backend.info().namespace == "default"
    assert not any(key[2] == namespace for key in backend.conn.informers)


@pytest.mark.apiserver
def test_a_context_namespace_is_checked_too(control_plane, tmp_path):
    path = control_plane.write_kubeconfig(tmp_path / "config", "admin", namespace="a/../b")
    with pytest.raises(ConfigError, match="context 'admin@test': invalid namespace 'a/../b'"):
        asyncio.run(KubernetesBackend(BackendSettings(kubeconfig=str(path))).connect())


@pytest.mark.parametrize("name", ["x/../victim", "victim/log", "../../namespaces", "..", "",
                                  "%2e%2e"])
def test_a_name_no_object_can_have_is_refused(name):
    # the API server decodes %2F before it routes: quoting cannot keep '/' in one segment
    with pytest.raises(ConfigError, match="invalid name"):
        object_path(PODS, "team-a", name)


@pytest.mark.apiserver
@pytest.mark.parametrize("name", ["victim?watch=1", "victim#x", "victim log",
                                  "x/../victim", "victim/log"])
def test_a_name_is_one_literal_segment(make_backend, control_plane, fresh_namespace, name):
    """The pod ``victim`` exists; a name that would reach it (or its log) if it were pasted
    into the path unquoted is refused, or a 404 for that literal name."""
    control_plane.core_v1().create_namespaced_pod(fresh_namespace, {
        "metadata": {"name": "victim"},
        "spec": {"containers": [{"name": "main", "image": "x"}]}})
    backend = make_backend(namespace=fresh_namespace)
    pods = backend.resolve_kind("pods")
    ref = ResourceRef(pods, name, fresh_namespace)
    assert asyncio.run(backend.get_object(ResourceRef(pods, "victim", fresh_namespace)))
    refused = (ConfigError, NotFound) if "/" in name else NotFound
    for call in (backend.get_object(ref), backend.describe(ref), backend.delete(ref)):
        with pytest.raises(refused):
            asyncio.run(call)
    assert asyncio.run(backend.get_object(ResourceRef(pods, "victim", fresh_namespace)))
