"""Every dashboard expression against a real Prometheus scraping a real Triton, the fixture
DCGM exporter and a real node-exporter: no query errors, and data where they feed it."""

from __future__ import annotations

import json
import time

import pytest

from mlops_tui.backends.monitoring import dashboards

RATE = "15s"  # what the live tests use with 1 s scrapes (Grafana picks $__rate_interval)


def grafana(expr: str, node: str = ".*", model: str = ".*") -> str:
    """What Grafana sends for ``expr`` with these variable values."""
    return (expr.replace("$__rate_interval", RATE).replace("$node", node)
            .replace("$model", model))


def targets(name: str) -> list[tuple[str, dict]]:
    board = json.loads(dashboards.render(name))
    return [(panel["title"], target) for panel in board["panels"]
            for target in panel["targets"]]


def value(prom, expr: str) -> float:
    (sample,) = prom.query(expr)
    return float(sample["value"][1])


def test_every_gpu_panel_answers_with_data(prometheus_server, dcgm_exporter) -> None:
    prometheus_server.wait_for("DCGM_FI_DEV_FB_USED", lambda r: len(r) == 4, timeout=20)
    end = time.time()
    for title, target in targets("gpu.json"):
        expr = grafana(target["expr"])
        # instant (stat panels) and range (time series) as Grafana asks them
        assert prometheus_server.query(expr), f"{title}: {expr} returned nothing"
        assert prometheus_server.query_range(expr, end - 60, end, 5), title


def test_allocated_vs_busy_counts_match_the_exporter(prometheus_server,
                                                     dcgm_exporter) -> None:
    prometheus_server.wait_for("DCGM_FI_DEV_FB_USED", lambda r: len(r) == 4, timeout=20)
    expr = {t["legendFormat"]: t["expr"] for _, t in targets("gpu.json")
            if t["legendFormat"] in ("GPUs", "allocated", "busy")}
    # gpu-node-1: GPU 0 allocated and at 87 %, GPU 1 idle and free; gpu-node-2 (MIG):
    # instance 1 allocated at 42 % engine-active, instance 2 free and idle
    assert [value(prometheus_server, grafana(expr[k])) for k in ("GPUs", "allocated",
                                                                 "busy")] == [4, 2, 2]
    assert [value(prometheus_server, grafana(expr[k], node="gpu-node-2"))
            for k in ("GPUs", "allocated", "busy")] == [2, 1, 1]
    assert value(prometheus_server, grafana(expr["busy"], node="nowhere")) == 0  # not empty


def test_every_model_panel_runs_and_the_served_ones_have_data(prometheus_server,
                                                              triton_server) -> None:
    triton_server.infer("bert", count=5)
    triton_server.infer("resnet50", count=10, batch=2)
    prometheus_server.wait_for(
        grafana('sum(rate(nv_inference_request_success{model=~"$model"}[$__rate_interval]))'
                " > 0"), timeout=20)
    end = time.time()
    answered = {}
    for _, target in targets("models.json"):
        expr = grafana(target["expr"])
        answered[target["expr"]] = prometheus_server.query(expr)  # an error raises here
        prometheus_server.query_range(expr, end - 60, end, 5)
    empty = [expr for expr, result in answered.items() if not result]
    # Triton here exports summaries, no request-duration histogram: only that one is empty
    assert len(empty) == 1 and "nv_inference_request_duration_us_bucket" in empty[0], empty
    throughput = next(t["expr"] for title, t in targets("models.json") if title == "Throughput")
    only_bert = prometheus_server.query(grafana(throughput, model="bert"))
    assert {r["metric"]["model"] for r in only_bert} == {"bert"}


@pytest.mark.parametrize(("name", "label", "expected"), [
    ("gpu.json", "Hostname", {"gpu-node-1", "gpu-node-2"}),
    ("models.json", "model", {"bert", "resnet50"}),
])
def test_the_variables_list_what_is_scraped(prometheus_server, dcgm_exporter, triton_server,
                                            name: str, label: str, expected: set) -> None:
    board = json.loads(dashboards.render(name))
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "query"]
    selector = variable["definition"].removeprefix("label_values(").removesuffix(
        f", {label})")
    triton_server.infer("bert", count=1)
    prometheus_server.wait_for(selector, timeout=20)
    # what Grafana asks for label_values(SELECTOR, LABEL)
    values = prometheus_server.api(f"label/{label}/values", {"match[]": selector})
    assert expected <= set(values)
