"""Image names: pinned defaults, a mirror registry for air-gapped clusters, explicit images."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.monitoring import images
from mlops_tui.backends.monitoring.spec import MonitoringSpec


def test_every_default_is_pinned() -> None:
    assert set(images.DEFAULT_IMAGES) == set(images.COMPONENTS)
    for image in images.DEFAULT_IMAGES.values():
        assert images.IMAGE.match(image), image
        tag = image.rsplit(":", 1)[1]
        assert tag and tag != "latest", image


def test_a_mirror_keeps_each_image_path_and_tag() -> None:
    resolved = images.resolve("mirror.lab:5000")
    assert resolved == {
        "prometheus": "mirror.lab:5000/prometheus/prometheus:v2.53.2",
        "dcgm": "mirror.lab:5000/nvidia/k8s/dcgm-exporter:4.4.1-4.6.0-ubuntu22.04",
        "node-exporter": "mirror.lab:5000/prometheus/node-exporter:v1.8.2",
        "grafana": "mirror.lab:5000/grafana/grafana:11.2.2",
    }
    # a path under the registry, and a trailing slash, as users type them
    assert images.resolve("registry.local/mirror/")["grafana"] == \
        "registry.local/mirror/grafana/grafana:11.2.2"
    # an image without a registry host is Docker Hub's: the mirror replaces that
    assert images.mirrored("busybox:1.36", "mirror:5000") == "mirror:5000/busybox:1.36"
    assert images.mirrored("localhost/x/y:1", "m.lab") == "m.lab/x/y:1"


def test_an_explicit_image_is_used_as_written() -> None:
    own = "mirror.lab:5000/custom/prom@sha256:" + "a" * 64
    resolved = images.resolve("other.lab", {"prometheus": own})
    assert resolved["prometheus"] == own
    assert resolved["grafana"] == "other.lab/grafana/grafana:11.2.2"


@pytest.mark.parametrize(("registry", "message"), [
    ("https://mirror.lab", "without https://"),
    ("mirror lab", "is not host[:port][/path]"),
    ("mirror.lab:5000/Upper", "is not host[:port][/path]"),
    ("mirror.lab:5000/p:tag", "is not host[:port][/path]"),
])
def test_a_bad_registry_is_a_clear_error(registry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        images.check_registry(registry)


def test_bad_images_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"images: unknown component 'loki'; the components "
                                          r"are prometheus, dcgm, node-exporter, grafana"):
        images.resolve(None, {"loki": "grafana/loki:3"})
    with pytest.raises(ConfigError, match=r"images.grafana: 'Grafana Latest' is not an image"):
        images.resolve(None, {"grafana": "Grafana Latest"})


def test_the_spec_checks_registry_and_images_where_they_are_typed() -> None:
    with pytest.raises(ValidationError) as caught:
        MonitoringSpec(registry="http://mirror")
    assert "registry 'http://mirror': give host[:port][/path], without http://" in str(caught.value)
    with pytest.raises(ValidationError, match="unknown component 'loki'"):
        MonitoringSpec(images={"loki": "x"})
    spec = MonitoringSpec(registry="mirror.lab", images={"dcgm": "mirror.lab/dcgm:1"})
    assert spec.image("prometheus") == "mirror.lab/prometheus/prometheus:v2.53.2"
    assert spec.image("dcgm") == "mirror.lab/dcgm:1"
