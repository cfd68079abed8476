"""MetricPlot: one learning curve (or several on the same axes) with the run's marks.

Drawn with textual-plotext (Textualize's own widget around plotext): it is maintained
by the Textual authors, follows the app's theme, draws braille lines (2x4 dots per
cell, so a 50-column plot shows 100 points), vertical lines for the marks, and log
axes, with no numpy or other dependency; the alternatives (textual-plot, a hand-drawn
sparkline) lack the axes or the marks, or are one person's young project.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from controlroom.tui.history import thin
from controlroom.tui.learning import PlotMark, Trace

POINTS_PER_COLUMN = 2
"""Braille has two dots per cell across: more points than that are not seen."""


class MetricPlot(PlotextPlot):
    """A titled plot that redraws only when what it shows changed."""

    DEFAULT_CSS = """
    MetricPlot { width: 1fr; height: 1fr; }
    """

    def __init__(self, column: str, title: str) -> None:
        """Args: column: the history column (HISTORY_COLUMNS) it plots; title: its heading."""
        super().__init__(id=f"plot-{column}", classes="metric-plot")
        self.column, self.title = column, title
        self.traces: list[Trace] = []
        self.marks: list[PlotMark] = []
        """What is drawn now (the tests read these)."""
        self.log_y = False
        self.x_label = ""
        self.hidden = 0
        """Points left out of a log axis (zero or below)."""

    def show(
        self, traces: list[Trace], marks: list[PlotMark], *, log_y: bool, x_label: str
    ) -> None:
        """Draw these traces and marks (nothing happens when they are what is drawn)."""
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
        self._x_ticks()
        if self.log_y and drawn:
            plt.yscale("log")
        title = self.title if drawn else f"{self.title}: no data yet"
        plt.title(
            title + (f" ({self.hidden} points <= 0 not on the log axis)" if self.hidden else "")
        )

    def _x_ticks(self) -> None:
        """Five x ticks written short (61.4k, not 61440): the axis is read at a glance."""
        xs = [x for t in self.traces for x in t.xs] + [m.x for m in self.marks]
        if not xs or min(xs) == max(xs):
            return
        lo, hi = min(xs), max(xs)
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        self.plt.xticks(ticks, [short(t) for t in ticks])

    def _positive(self, trace: Trace) -> tuple[list[float], list[float]]:
        pairs = [
            (x, y) for x, y in zip(trace.xs, trace.ys, strict=True) if y > 0 and math.isfinite(y)
        ]
        self.hidden += len(trace.xs) - len(pairs)
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def on_resize(self) -> None:
        self.draw()  # thinning follows the width


def short(x: float) -> str:
    """An axis label: 0, 512, 61.4k, 1.23M."""
    size = abs(x)
    if size >= 1e6:
        return f"{x / 1e6:.3g}M"
    if size >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.4g}"
