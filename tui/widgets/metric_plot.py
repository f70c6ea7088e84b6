"""A time-series plot (textual-plotext) of a few Series against "minutes ago"."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual_plotext import PlotextPlot

from mlops_tui.backends.metrics_models import Series

MAX_LINES = 8  # beyond this a legend is unreadable: the busiest lines are kept


class MetricPlot(PlotextPlot):
    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 8; border: round $panel-lighten-2; }
    """

    _shown: tuple | None = None

    def show(self, title: str, series: Sequence[Series], now: float, unit: str = "") -> None:
        """Replace the plotted lines; x is minutes before the newest point.

        Range queries end on a step boundary, so most refreshes bring the very same points:
        then nothing is redrawn (plotext's canvas is the costliest thing on the screen).
        """
        key = (title, tuple(series), unit)
        if key == self._shown:
            return
        self._shown = key
        now = max((s.points[-1][0] for s in series if s.points), default=now)
        plt = self.plt
        plt.clear_data()
        self.border_title = Content(title)  # plain: a title may name a model or a pod
        lines = sorted(series, key=lambda s: -max((v for _, v in s.points), default=0))
        for line in lines[:MAX_LINES]:
            if not line.points:
                continue
            xs = [(t - now) / 60 for t, _ in line.points]
            ys = [v for _, v in line.points]
            plt.plot(xs, ys, label=line.label[:24], marker="braille")
        plt.xlabel("minutes ago")
        if unit:
            plt.ylabel(unit)
        if not any(s.points for s in series):
            plt.title("no data in this window")
        else:
            plt.title("")
        self.refresh()
