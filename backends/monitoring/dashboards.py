"""The two Grafana dashboards, generated from the query library (one source of truth).

Every panel target is a query of ``backends/prometheus/queries.py`` rendered for Grafana:
``{sel}`` becomes ``{Hostname=~"$node"}`` (GPU queries) or ``{model=~"$model"}`` (Triton
queries), ``{r}`` becomes ``$__rate_interval``. The JSON files beside this module are this
generator's output, committed and shipped (Grafana's ConfigMap reads them); a test keeps
them equal to what the generator makes now. Regenerate with::

    python -m mlops_tui.backends.monitoring.dashboards --write
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlops_tui.backends.prometheus.queries import BY_NAME

SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NODE_SEL, MODEL_SEL, RATE = '{Hostname=~"$node"}', '{model=~"$model"}', "$__rate_interval"
GRID_WIDTH = 24
HERE = Path(__file__).parent / "dashboards"


def expr(query: str) -> str:
    """The library query ``query`` as a Grafana target's expression."""
    sel = NODE_SEL if query.startswith("gpu_") else MODEL_SEL if query.startswith(
        "triton_") else ""
    return BY_NAME[query].render(sel, RATE)


def selector(query: str) -> str:
    """A library query with no matchers: the series a template variable lists labels of."""
    return BY_NAME[query].render("", RATE)


@dataclass(frozen=True, slots=True)
class Target:
    query: str  # a name in queries.BY_NAME
    legend: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    targets: tuple[Target, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat" (instant queries, the last value)
    width: int = 12
    height: int = 8


def _variable(name: str, label: str, query: str, label_name: str) -> dict[str, Any]:
    definition = f"label_values({selector(query)}, {label_name})"
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "definition": definition, "query": {"query": definition, "refId": name},
            "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [], "refresh": 2, "regex": "", "sort": 1, "hide": 0}


def _datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Prometheus", "type": "datasource",
            "query": "prometheus", "current": {}, "options": [], "refresh": 1,
            "regex": "", "hide": 0}


def _target(target: Target, ref: str, instant: bool) -> dict[str, Any]:
    return {"refId": ref, "datasource": DATASOURCE, "editorMode": "code",
            "expr": expr(target.query), "legendFormat": target.legend or "__auto",
            "range": not instant, "instant": instant}


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    instant = panel.kind == "stat"
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.unit == "percent":
        defaults.update(min=0, max=100)
    options: dict[str, Any] = (
        {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
         "colorMode": "value", "graphMode": "none", "justifyMode": "auto",
         "orientation": "auto", "textMode": "auto"} if instant else
        {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
         "tooltip": {"mode": "multi", "sort": "desc"}})
    return {"id": panel_id, "type": panel.kind, "title": panel.title,
            "description": " ".join(BY_NAME[t.query].doc for t in panel.targets),
            "datasource": DATASOURCE,
            "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options,
            "targets": [_target(t, chr(ord("A") + i), instant)
                        for i, t in enumerate(panel.targets)]}


def dashboard(uid: str, title: str, tags: list[str], variables: list[dict[str, Any]],
              panels: list[Panel]) -> dict[str, Any]:
    """A dashboard laid out left to right, top to bottom, rows of 24 grid units."""
    laid, x, y, row_height = [], 0, 0, 0
    for number, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        laid.append(_panel(panel, number, x, y))
        x, row_height = x + panel.width, max(row_height, panel.height)
    return {"uid": uid, "title": title, "tags": ["mlops-tui", *tags], "editable": True,
            "graphTooltip": 1, "id": None, "links": [], "annotations": {"list": []},
            "refresh": "30s", "schemaVersion": SCHEMA_VERSION, "version": 1,
            "time": {"from": "now-1h", "to": "now"}, "timepicker": {}, "timezone": "",
            "templating": {"list": [_datasource_variable(), *variables]}, "panels": laid}


_GPU = "{{Hostname}}/{{gpu}} {{GPU_I_PROFILE}}"


def gpu_dashboard() -> dict[str, Any]:
    """GPUs: allocated vs busy, utilization, memory, power, temperature, XID."""
    return dashboard("mlops-tui-gpu", "mlops-tui: GPUs", ["gpu"],
                     [_variable("node", "Node", "gpu_fb_used", "Hostname")], [
        Panel("GPUs", (Target("gpu_count", "GPUs"),), kind="stat", width=4, height=4),
        Panel("Allocated to a pod", (Target("gpu_allocated", "allocated"),), kind="stat",
              width=4, height=4),
        Panel("Busy", (Target("gpu_busy", "busy"),), kind="stat", width=4, height=4),
        Panel("Allocated vs busy", (Target("gpu_count", "GPUs"),
                                    Target("gpu_allocated", "allocated"),
                                    Target("gpu_busy", "busy")), width=12, height=4),
        Panel("Utilization", (Target("gpu_util", _GPU),
                              Target("gpu_engine_active", f"{_GPU} engine")), "percent"),
        Panel("Framebuffer memory", (Target("gpu_fb_used", f"{_GPU} used"),
                                     Target("gpu_fb_free", f"{_GPU} free")), "decmbytes"),
        Panel("Power", (Target("gpu_power", _GPU),), "watt"),
        Panel("Temperature", (Target("gpu_temp", _GPU),), "celsius"),
        Panel("Last XID error", (Target("gpu_xid", _GPU),), "none", width=24),
    ])


_MODEL = "{{model}} v{{version}} {{pod}}"


def models_dashboard() -> dict[str, Any]:
    """Triton models: throughput, errors, latency percentiles, queue vs compute."""
    return dashboard("mlops-tui-models", "mlops-tui: models", ["triton"],
                     [_variable("model", "Model", "triton_requests", "model")], [
        Panel("Throughput", (Target("triton_success_rate", _MODEL),), "reqps"),
        Panel("Errors", (Target("triton_failure_rate", _MODEL),), "reqps"),
        Panel("Latency percentiles", (
            Target("triton_quantiles", "{{model}} p{{quantile}}"),
            Target("triton_histogram_p95", "{{model}} p95 (histogram)"),
            Target("triton_avg_latency", "{{model}} average")), "ms"),
        Panel("Queue vs compute", (Target("triton_queue", f"{_MODEL} queue"),
                                   Target("triton_compute", f"{_MODEL} compute")), "ms"),
        Panel("Batch size", (Target("triton_avg_batch", _MODEL),), "short"),
        Panel("Pending requests", (Target("triton_pending", _MODEL),), "short"),
    ])


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "gpu.json": gpu_dashboard, "models.json": models_dashboard}


def render(name: str) -> str:
    """The file ``name`` as the generator makes it now."""
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def shipped(name: str) -> str:
    """The file ``name`` as shipped with the package (what Grafana gets)."""
    package = resources.files("mlops_tui.backends.monitoring")
    return package.joinpath("dashboards", name).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``--write``: regenerate the files; ``--check``: exit 1 when one differs."""
    parser = argparse.ArgumentParser(prog="python -m mlops_tui.backends.monitoring.dashboards")
    parser.add_argument("--write", action="store_true", help="write the JSON files")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--dir", type=Path, default=HERE, help=f"default: {HERE}")
    args = parser.parse_args(argv)
    stale = []
    for name in DASHBOARDS:
        path, text = args.dir / name, render(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if args.write:
                path.write_text(text, encoding="utf-8")
    for name in stale:
        print(f"{'wrote' if args.write else 'stale'}: {args.dir / name}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
