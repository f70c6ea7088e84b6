"""Prometheus metrics source: DCGM exporter GPU series, Triton metrics, node-exporter."""

from __future__ import annotations

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.models import MetricsSettings
from mlops_tui.backends.prometheus.source import PrometheusSource, redact_url
from mlops_tui.backends.protocols import ClusterBackend, ServiceProxy

# Service names of common installs (kube-prometheus, the operator, the community chart),
# most specific first; then any service labelled as Prometheus.
SERVICE_NAMES = ("prometheus-k8s", "prometheus-operated", "kube-prometheus-stack-prometheus",
                 "prometheus-server", "prometheus")
APP_LABELS = ("prometheus",)


async def create_source(settings: MetricsSettings,
                        cluster: ClusterBackend | None) -> PrometheusSource:
    """A source for ``settings.url``, or, with no URL, for the cluster's own Prometheus
    reached through the API server's service proxy.

    Raises:
        ConfigError: no URL given and no Prometheus service found.
    """
    if settings.url:
        return PrometheusSource(settings.url, settings)
    if isinstance(cluster, ServiceProxy):
        found = await cluster.find_service_proxy(SERVICE_NAMES, APP_LABELS)
        if found is not None:
            url, auth, where = found
            return PrometheusSource(url, settings, auth, via=where)
    raise ConfigError("no Prometheus: none found in the cluster",
                      hint="pass --prometheus-url or set MLOPS_TUI_PROMETHEUS_URL")


__all__ = ["PrometheusSource", "create_source", "redact_url"]
