"""Throughput and p99 latency against the load level of a load-test sweep (textual-plotext).

Levels are placed evenly (1, 4, 16, 64 read better side by side than on a linear axis) and
labelled with their value; throughput is on the left axis, p99 on the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual_plotext import PlotextPlot

if TYPE_CHECKING:
    from mlops_tui.tui.screens.deploy_render import StepRow


class LoadtestPlot(PlotextPlot):
    DEFAULT_CSS = """
    LoadtestPlot { height: 1fr; min-height: 10; border: round $panel-lighten-2; }
    """

    def show(self, rows: Sequence[StepRow], axis: str = "concurrency") -> None:
        """Draw ``rows`` (in sweep order); an empty sweep says so."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.border_title = f"throughput and p99 vs {axis}"
        if not rows:
            plt.title("no results yet")
            self.refresh()
            return
        xs = list(range(1, len(rows) + 1))
        plt.plot(xs, [r.throughput_rps for r in rows], label="req/s", marker="braille",
                 color="green")
        plt.plot(xs, [r.p99_ms for r in rows], label="p99 ms", marker="braille",
                 color="orange", yside="right")
        plt.xticks(xs, [f"{r.level:g}" for r in rows])
        plt.xlabel(axis)
        plt.ylabel("req/s", yside="left")
        plt.ylabel("p99 ms", yside="right")
        plt.title("")
        self.refresh()
