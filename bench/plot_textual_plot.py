"""MetricPlot's interface drawn with textual-plot (PyPI, David Fokkema's native Textual
plot widget), for `bench/tui_latency.py --plot textual-plot` only: the figures that
decided against it (bench/RESULTS.md). Not a dependency of controlroom; to run it:

    .venv/bin/pip install textual-plot

The same traces and marks as tui/widgets/plots.py: lines in braille (its HiResMode),
the min-max band's edges as faint lines, the marks as its vertical lines, a log y axis
as log10 of the positive values with the labels written back as powers of ten (it has
no log axis), the title as the border title, the legend as its floating legend box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plot import HiResMode, NumericAxisFormatter, PlotWidget

from controlroom.tui.history import thin
from controlroom.tui.learning import PlotMark, Trace
from controlroom.tui.widgets.plots import RICH_COLORS, short


class PowerOfTenLabels(NumericAxisFormatter):
    """Ticks placed on log10 of the values, labelled with the values."""

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [short(10**t) for t in ticks]


class TextualPlotMetric(PlotWidget):
    """tui/widgets/plots.MetricPlot's constructor, attributes and show(), on PlotWidget."""

    DEFAULT_CSS = """
    TextualPlotMetric { width: 1fr; height: 1fr; }
    """

    thin = False
    """Thin each trace to two points a column first, as MetricPlot does (True), or hand it
    every point (False: the widget's own cost on the same data)."""

    def __init__(self, column: str, title: str) -> None:
        super().__init__(id=f"plot-{column}", classes="metric-plot", allow_pan_and_zoom=False)
        self.column, self.title = column, title
        self.border_title = title
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
        self.clear()
        self.hidden = 0
        for trace in sorted(traces, key=lambda t: not t.dim):
            xs, ys = trace.xs, trace.ys
            if log_y:
                pairs = [(x, math.log10(y)) for x, y in zip(xs, ys, strict=True) if y > 0]
                self.hidden += len(ys) - len(pairs)
                xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
            if not xs:
                continue
            if self.thin and self.size.width > self.margin_left:
                xs, ys = thin(xs, ys, 2 * (self.size.width - self.margin_left))
            color = RICH_COLORS["gray"] if trace.dim else RICH_COLORS.get(trace.color, trace.color)
            label = None if trace.dim else trace.label
            self.plot(xs, ys, line_style=color, hires_mode=HiResMode.BRAILLE, label=label)
        for mark in marks:
            self.add_v_line(mark.x, line_style=mark.color)
        self.set_y_formatter(PowerOfTenLabels() if log_y else NumericAxisFormatter())
        self.set_xlabel(x_label)
        self.show_legend(is_visible=any(not t.dim for t in traces))
