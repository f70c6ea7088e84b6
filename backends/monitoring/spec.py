"""What a monitoring install asks for (pure; every field checked with a message naming it).

The defaults make the whole stack in namespace ``monitoring``: Prometheus (data in an
emptyDir unless ``storage`` asks for a claim), the DCGM exporter on nodes labelled
``nvidia.com/gpu.present=true`` (what NVIDIA's GPU feature discovery sets; the provisioner's
GPU step sets it too), node-exporter on every node and Grafana with the two dashboards.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mlops_tui.backends import names
from mlops_tui.backends.deploy.spec import quantity_problem
from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.monitoring import images as image_names
from mlops_tui.backends.monitoring.images import COMPONENTS

Component = Literal["prometheus", "dcgm", "node-exporter", "grafana"]
DEFAULT_NAMESPACE = "monitoring"
DEFAULT_GPU_LABEL = "nvidia.com/gpu.present=true"
# Prometheus' own duration grammar (model/time.ParseDuration)
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _label_problem(key: str, value: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and names.subdomain_problem(prefix):
        return f"label key {key!r}: the prefix must be a DNS subdomain"
    if not _LABEL_NAME.match(name):
        return f"label key {key!r} is not a label name"
    if not _LABEL_VALUE.match(value):
        return f"label value {value!r} is not a label value"
    return None


class MonitoringSpec(BaseModel):
    """The monitoring stack to install.

    Attributes:
        namespace: where every namespaced object goes (created when absent).
        components: which parts to install (default: all, applied in :data:`COMPONENTS`
            order).
        registry: a mirror registry for the default images (air-gapped clusters).
        images: an image per component, used as written.
        storage: a PersistentVolumeClaim of this size for Prometheus' TSDB (None: emptyDir).
        storage_class: the claim's storage class (None: the cluster's default).
        retention: how long Prometheus keeps samples.
        scrape_interval: how often every target is scraped.
        gpu_node_label: ``key=value`` that marks GPU nodes: the DCGM exporter runs there.
        gpu_runtime_class: a RuntimeClass for the DCGM exporter (``nvidia`` where the
            NVIDIA runtime is not containerd's default, as with k3s); None: the default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = DEFAULT_NAMESPACE
    components: tuple[Component, ...] = COMPONENTS  # type: ignore[assignment]
    registry: str | None = None
    images: dict[str, str] = {}
    storage: str | None = None
    storage_class: str | None = None
    retention: str = "15d"
    scrape_interval: str = "15s"
    gpu_node_label: str = DEFAULT_GPU_LABEL
    gpu_runtime_class: str | None = None

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = names.label_problem(value)
        if problem:
            raise ValueError(f"invalid namespace: {problem}")
        return value

    @field_validator("components")
    @classmethod
    def _components(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one component: {', '.join(COMPONENTS)}")
        return tuple(c for c in COMPONENTS if c in value)  # applied in a fixed order

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        try:
            return image_names.check_registry(value) if value is not None else None
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("images")
    @classmethod
    def _images(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            image_names.resolve(None, value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        problem = quantity_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("storage_class", "gpu_runtime_class")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        problem = names.subdomain_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("retention", "scrape_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not a Prometheus duration (e.g. 15s, 15d)")
        return value

    @field_validator("gpu_node_label")
    @classmethod
    def _gpu_label(cls, value: str) -> str:
        key, sep, label_value = value.partition("=")
        problem = _label_problem(key, label_value) if sep else (
            f"{value!r}: give key=value, e.g. {DEFAULT_GPU_LABEL}")
        if problem:
            raise ValueError(problem)
        return value

    @property
    def gpu_selector(self) -> dict[str, str]:
        """The DCGM exporter's nodeSelector."""
        key, _, value = self.gpu_node_label.partition("=")
        return {key: value}

    def image(self, component: str) -> str:
        """The image ``component`` runs (see images.resolve)."""
        return image_names.resolve(self.registry, self.images)[component]
