"""The monitoring stack a cluster gets from mlops-tui: Prometheus, the DCGM exporter,
node-exporter and Grafana with two dashboards, as plain manifests.

``spec.py`` says what is asked for, ``images.py`` which images run (pinned defaults, a
registry mirror for air-gapped clusters), ``scrape.py`` the Prometheus config,
``manifests.py`` / ``exporters.py`` / ``grafana.py`` the objects, ``dashboards.py`` the
Grafana dashboards (generated from ``backends/prometheus/queries.py``). Nothing here does
I/O: the ``monitoring`` action (``backends/actions/monitoring.py``) applies the objects.
"""
