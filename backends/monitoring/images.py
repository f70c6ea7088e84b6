"""Which image each component runs: pinned defaults, a mirror registry, explicit names.

An air-gapped cluster pulls from a mirror: ``registry: mirror.lab:5000`` keeps each default
image's repository path and tag and swaps its registry host
(``quay.io/prometheus/prometheus:v2.53.2`` → ``mirror.lab:5000/prometheus/prometheus:v2.53.2``),
which is how ``skopeo sync`` and k3s' ``registries.yaml`` mirrors lay images out. An image
named in ``images`` is used as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlops_tui.backends.errors import ConfigError

#: the components a monitoring install is made of, in the order they are applied
COMPONENTS = ("prometheus", "dcgm", "node-exporter", "grafana")

#: pinned defaults (never ``latest``: a re-apply must not change what runs)
DEFAULT_IMAGES: dict[str, str] = {
    "prometheus": "quay.io/prometheus/prometheus:v2.53.2",
    "dcgm": "nvcr.io/nvidia/k8s/dcgm-exporter:4.4.1-4.6.0-ubuntu22.04",
    "node-exporter": "quay.io/prometheus/node-exporter:v1.8.2",
    "grafana": "docker.io/grafana/grafana:11.2.2",
}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]{{1,5}})?"
REGISTRY = re.compile(rf"^{_HOST}(?:/{_COMPONENT})*$")
IMAGE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*"
                   r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")


def _registry_of(image: str) -> tuple[str, str]:
    """(registry host, the rest) as the container runtimes split a reference: the first
    part is a host when it has a dot or a port, or is ``localhost``."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", image


def mirrored(image: str, registry: str) -> str:
    """``image`` pulled from ``registry`` instead of its own registry host."""
    return f"{registry.rstrip('/')}/{_registry_of(image)[1]}"


def check_registry(registry: str) -> str:
    """``registry`` when it is ``host[:port][/path]``.

    Raises:
        ConfigError: a scheme, a space, a tag or anything else a registry is not.
    """
    if "://" in registry:
        raise ConfigError(f"registry {registry!r}: give host[:port][/path], without "
                          f"{registry.split('://')[0]}://")
    if not REGISTRY.match(registry.rstrip("/")):
        raise ConfigError(f"registry {registry!r} is not host[:port][/path] "
                          "(e.g. mirror.lab:5000 or registry.local/mirror)")
    return registry.rstrip("/")


def check_image(component: str, image: str) -> str:
    """``image`` when it is an image reference.

    Raises:
        ConfigError: it is not (names the component and the reference).
    """
    if not IMAGE.match(image):
        raise ConfigError(f"images.{component}: {image!r} is not an image reference "
                          "(e.g. registry.local/prometheus/prometheus:v2.53.2)")
    return image


def resolve(registry: str | None = None, images: Mapping[str, str] | None = None
            ) -> dict[str, str]:
    """The image of every component.

    Args:
        registry: a mirror for the defaults (see the module docstring); None: their own.
        images: explicit images by component, used as written (the registry is not
            applied to them).

    Returns:
        ``{component: image}`` for every name in :data:`COMPONENTS`.

    Raises:
        ConfigError: an unknown component, a bad registry or a bad image reference.
    """
    images = dict(images or {})
    unknown = sorted(set(images) - set(COMPONENTS))
    if unknown:
        raise ConfigError(f"images: unknown component {', '.join(map(repr, unknown))}; "
                          f"the components are {', '.join(COMPONENTS)}")
    mirror = check_registry(registry) if registry else None
    out = {}
    for component in COMPONENTS:
        if component in images:
            out[component] = check_image(component, images[component])
        else:
            default = DEFAULT_IMAGES[component]
            out[component] = mirrored(default, mirror) if mirror else default
    return out
