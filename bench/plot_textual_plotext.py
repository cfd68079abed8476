"""MetricPlot's interface drawn with textual-plotext (Textualize's widget around plotext),
for `bench/tui_latency.py --plot textual-plotext` only: the detail screen's first plots
(dda9857), kept to re-measure them against tui/widgets/plots.py (bench/RESULTS.md). Not
a dependency of controlroom; to run it: `.venv/bin/pip install textual-plotext`.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from controlroom.tui.history import thin
from controlroom.tui.learning import PlotMark, Trace

POINTS_PER_COLUMN = 2
"""Braille has two dots per cell across: more points than that are not seen."""


class TextualPlotextMetric(PlotextPlot):
    """tui/widgets/plots.MetricPlot's constructor, attributes and show(), on PlotextPlot."""

    DEFAULT_CSS = """
    TextualPlotextMetric { width: 1fr; height: 1fr; }
    """

    def __init__(self, column: str, title: str) -> None:
        super().__init__(id=f"plot-{column}", classes="metric-plot")
        self.column, self.title = column, title
        self.traces: list[Trace] = []
        self.marks: list[PlotMark] = []
        self.log_y = False
        self.x_label = ""
        self.hidden = 0

    def show(
        self, traces: list[Trace], marks: list[PlotMark], *, log_y: bool, x_label: str
    ) -> None:
        if (traces, marks, log_y, x_label) == (self.traces, self.marks, self.log_y, self.x_label):
            return
        self.traces, self.marks, self.log_y, self.x_label = traces, marks, log_y, x_label
        self.draw()
        self.refresh()

    def draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.xlabel(self.x_label)
        points = POINTS_PER_COLUMN * max(self.size.width, 40)
        self.hidden, drawn = 0, 0
        for trace in self.traces:
            xs, ys = self._positive(trace) if self.log_y else (trace.xs, trace.ys)
            xs, ys = thin(xs, ys, points)
            if xs:
                label = None if trace.dim else trace.label
                color = "gray" if trace.dim and trace.color != "gray" else trace.color
                plt.plot(xs, ys, color=color, marker="braille", label=label)
                drawn += 1
        for mark in self.marks:
            plt.vline(mark.x, color=mark.color)
        if self.log_y and drawn:
            plt.yscale("log")
        title = self.title if drawn else f"{self.title}: no data yet"
        plt.title(
            title + (f" ({self.hidden} points <= 0 not on the log axis)" if self.hidden else "")
        )

    def _positive(self, trace: Trace) -> tuple[list[float], list[float]]:
        pairs = [
            (x, y) for x, y in zip(trace.xs, trace.ys, strict=True) if y > 0 and math.isfinite(y)
        ]
        self.hidden += len(trace.xs) - len(pairs)
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def on_resize(self) -> None:
        self.draw()  # thinning follows the width
