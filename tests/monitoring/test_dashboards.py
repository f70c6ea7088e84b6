"""The Grafana dashboards: the committed JSON is the generator's output, every target is a
query of the library, and the layout is one Grafana draws."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_tui.backends.monitoring import dashboards
from mlops_tui.backends.prometheus.queries import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "backends" / "monitoring" / "dashboards"


def every_target(board: dict) -> list[dict]:
    return [t for panel in board["panels"] for t in panel["targets"]]


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_the_committed_files_are_what_the_generator_makes(name: str) -> None:
    assert (SHIPPED / name).read_text(encoding="utf-8") == dashboards.render(name), (
        f"{name} is stale: run python -m mlops_tui.backends.monitoring.dashboards --write")
    # and the installed package ships the same file (Grafana's ConfigMap reads it)
    assert dashboards.shipped(name) == dashboards.render(name)


def test_every_target_is_a_rendered_library_query() -> None:
    rendered = {dashboards.expr(name): name for name in BY_NAME}
    used = set()
    for name in dashboards.DASHBOARDS:
        for target in every_target(json.loads(dashboards.render(name))):
            assert target["expr"] in rendered, target["expr"]
            used.add(rendered[target["expr"]])
    # what the issue asks the two dashboards to show
    assert {"gpu_util", "gpu_engine_active", "gpu_fb_used", "gpu_power", "gpu_xid",
            "gpu_allocated", "gpu_busy", "triton_success_rate", "triton_quantiles",
            "triton_queue", "triton_compute", "triton_failure_rate"} <= used


@pytest.mark.parametrize(("name", "variable", "label"), [
    ("gpu.json", "node", "Hostname"), ("models.json", "model", "model")])
def test_the_template_variables(name: str, variable: str, label: str) -> None:
    board = json.loads(dashboards.render(name))
    assert board["schemaVersion"] == dashboards.SCHEMA_VERSION
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    chosen = variables[variable]
    assert chosen["includeAll"] and chosen["multi"] and chosen["allValue"] == ".*"
    selector = chosen["definition"].removeprefix("label_values(").removesuffix(f", {label})")
    assert selector in {q.render("", "") for q in BY_NAME.values()}
    # every target is narrowed by the dashboard's variable
    assert all(f"=~\"${variable}\"" in t["expr"] for t in every_target(board))


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_the_layout(name: str) -> None:
    board = json.loads(dashboards.render(name))
    panels = board["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        assert panel["type"] in ("timeseries", "stat")
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs)
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps"
                cells.add((x, y))
        assert all(t["instant"] == (panel["type"] == "stat") for t in panel["targets"])


def test_the_generator_command(tmp_path: Path) -> None:
    module = "mlops_tui.backends.monitoring.dashboards"
    stale = subprocess.run([sys.executable, "-m", module, "--check", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1 and "stale:" in stale.stdout
    wrote = subprocess.run([sys.executable, "-m", module, "--write", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert wrote.returncode == 0, wrote.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu.json", "models.json"]
    fresh = subprocess.run([sys.executable, "-m", module, "--check", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0 and fresh.stdout == ""
