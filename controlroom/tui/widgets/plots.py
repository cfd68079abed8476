"""MetricPlot: one learning curve (or several on the same axes) with the run's marks.

Drawn here, in braille (2x4 dots a cell, tui/widgets/braille.py), straight into Textual
strips, because neither maintained plotting widget for Textual keeps the screen in
issue 13's budget (< 5 % of a core with the screen open asking at 2 Hz). Both were
measured behind this class's interface (`bench/tui_latency.py --plot ...`, the adapters
in bench/) on 2026-11-29, the 2-CPU development VM (Python 3.11.7, Textual 8.2.8): the
screen's 4 plots of a 2,000-row history, and one plot's redraw (3 lines of 2,000 points:
mean and min-max band, 2 marks, 60x15 cells); figures in bench/RESULTS.md.

- textual-plotext 1.0.1 (Textualize's widget around plotext), the first choice: it
  builds an ANSI string that Rich parses again; 11 ms CPU a plot redraw, 11-13 % of a
  core at 2 Hz (15-19 % before redraws were held to one a second).
- textual-plot 0.10.1 (David Fokkema's native widget; numpy, textual-hires-canvas):
  maps and draws point by point in Python onto four Canvas children; 27-29 ms a plot
  redraw given every point, 14-18 % at 2 Hz; thinned to two points a column first,
  12-16 ms and 8-11 %, and 5.6-7 % even at the screen's default 2 s. It also has no
  log axis (log10 of the values under relabelled ticks lands on 158, 251, 398), no
  title, a legend boxed over the data, and takes focus with zoom and pan keys (arrows,
  r) that are not this screen's.
- this renderer: 2.5-3 ms a plot redraw, 3.7-4.5 % at 2 Hz, no dependency, and what
  was needed of them: a title with a legend, y labels, x ticks, lines, vertical marks
  and a log axis.
"""

from __future__ import annotations

import math
from functools import cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from controlroom.tui.history import thin
from controlroom.tui.learning import PlotMark, Trace
from controlroom.tui.widgets.braille import Canvas

Y_LABEL_W = 8
"""Columns for the y labels (and the axis) left of the canvas."""
RICH_COLORS = {"gray": "grey50"}
"""The traces' colour names that Rich spells differently."""
Line = list[tuple[str, str]]
"""One line of a plot: (characters, Rich style) runs."""


class MetricPlot(Widget):
    """A titled plot that redraws only when what it shows (or its size) changed."""

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
        self._strips: list[Strip] | None = None
        """The drawn lines, kept until the data or the size changes."""

    def show(
        self, traces: list[Trace], marks: list[PlotMark], *, log_y: bool, x_label: str
    ) -> None:
        """Draw these traces and marks (nothing happens when they are what is drawn)."""
        if (traces, marks, log_y, x_label) == (self.traces, self.marks, self.log_y, self.x_label):
            return
        self.traces, self.marks, self.log_y, self.x_label = traces, marks, log_y, x_label
        self.hidden = sum(len(t.ys) - len(self._points(t)[0]) for t in traces) if log_y else 0
        self._strips = None
        self.refresh()

    def on_resize(self) -> None:
        self._strips = None

    def render_line(self, y: int) -> Strip:
        """Lines go to Textual as ready segments: no parsing, no re-layout of text."""
        width = self.size.width
        if self._strips is None:
            base = self.rich_style
            self._strips = [
                Strip([Segment(chars, _style(style)) for chars, style in line])
                .crop_extend(0, width, None)
                .apply_style(base)
                for line in self.draw(width, self.size.height)
            ]
        if y >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        return self._strips[y]

    def _points(self, trace: Trace) -> tuple[list[float], list[float]]:
        """A trace's points on this y axis: log10 of the positive ones on a log axis."""
        if not self.log_y:
            return trace.xs, trace.ys
        pairs = [(x, math.log10(y)) for x, y in zip(trace.xs, trace.ys, strict=True) if y > 0]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def draw(self, width: int, height: int) -> list[Line]:
        """The plot's lines at this size: title and legend, canvas with y labels, x axis."""
        cw, ch = max(width - Y_LABEL_W, 4), max(height - 3, 2)
        series = [(t, *self._points(t)) for t in self.traces]
        series = [(t, *thin(xs, ys, 2 * cw)) for t, xs, ys in series if xs]
        xs = [x for _, txs, _ in series for x in txs] + [m.x for m in self.marks]
        ys = [y for _, _, tys in series for y in tys]
        title = self.title_line(width, bool(series))
        if not series:
            return [title]
        x0, x1 = _span(xs)
        y0, y1 = _span(ys)
        canvas = Canvas(cw, ch)
        for mark in self.marks:
            canvas.rule(round((mark.x - x0) / (x1 - x0) * (cw - 1)), mark.color)
        for trace, txs, tys in sorted(series, key=lambda s: not s[0].dim):
            dots = [
                (
                    round((x - x0) / (x1 - x0) * (2 * cw - 1)),
                    round((y1 - y) / (y1 - y0) * (4 * ch - 1)),
                )
                for x, y in zip(txs, tys, strict=True)
            ]
            color = RICH_COLORS["gray"] if trace.dim else RICH_COLORS.get(trace.color, trace.color)
            for a, b in zip(dots, dots[1:] or dots, strict=False):  # one point: a dot
                canvas.line(*a, *b, color)
        rows = [[(self.y_label(y0, y1, i, ch), "dim"), *canvas.row(i)] for i in range(ch)]
        return [title, *rows, *self.x_axis(x0, x1, cw)]

    def title_line(self, width: int, has_data: bool) -> Line:
        """The title, then each trace's label in its colour (dim ones left out); what
        does not fit the width is cut."""
        title = self.title if has_data else f"{self.title}: no data yet"
        if self.hidden:
            title += f" ({self.hidden} points <= 0 off the log axis)"
        line = [(title, "bold")]
        for trace in self.traces:
            if not trace.dim:
                line.append((f"  ━ {trace.label}", RICH_COLORS.get(trace.color, trace.color)))
        return line

    def y_label(self, y0: float, y1: float, row: int, rows: int) -> str:
        """The axis left of a canvas row: the top, middle and bottom rows name their value."""
        label = ""
        if row in (0, rows // 2, rows - 1):
            y = y1 - (y1 - y0) * row / max(rows - 1, 1)
            label = short(10**y if self.log_y else y)
        return label.rjust(Y_LABEL_W - 1)[: Y_LABEL_W - 1] + "┤"

    def x_axis(self, x0: float, x1: float, cw: int) -> list[Line]:
        """The axis line with five ticks, and under it their values, written short."""
        line, labels = ["─"] * cw, [" "] * (cw + Y_LABEL_W)
        for i in range(5):
            col = round(i * (cw - 1) / 4)
            line[col] = "┴"
            label = short(x0 + (x1 - x0) * i / 4)
            start = min(max(Y_LABEL_W + col - len(label) // 2, 0), cw + Y_LABEL_W - len(label))
            if all(c == " " for c in labels[max(start - 1, 0) : start + len(label) + 1]):
                labels[start : start + len(label)] = label
        axis = (" " * (Y_LABEL_W - 1) + "└" + "".join(line), "dim")
        return [[axis], [("".join(labels).rstrip(), "dim"), (f"  {self.x_label}", "dim italic")]]


@cache
def _style(name: str) -> Style:
    """A Rich style by name, parsed once (a redraw asks for the same few again and again)."""
    return Style.parse(name) if name else Style()


def _span(values: list[float]) -> tuple[float, float]:
    """The range of the values, widened when they are all one value."""
    lo, hi = min(values), max(values)
    if hi - lo > 1e-12 * max(abs(lo), abs(hi), 1.0):
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def short(x: float, width: int = Y_LABEL_W - 1) -> str:
    """An axis label of at most `width` characters: 0, 512, 0.00025, 2.61e-5, 61.4k,
    1.23M. Three significant digits where they fit, else fewer; never cut, since a cut
    label reads as another number ("2.61e-0" was 2.61e-05)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    label = ""
    for digits in (3, 2, 1):
        for label in _forms(x, digits):
            if len(label) <= width:
                return label
    return label  # 1 digit of a finite float is 7 characters at most ("-1e-308" is 7)


def _forms(x: float, digits: int) -> tuple[str, ...]:
    """A value written with `digits` significant digits, preferred form first."""
    size = abs(x)
    if size >= 1e4:
        return (_si(x, digits), _sci(f"{x:.{digits - 1}e}"))
    if size >= 100:
        return (f"{x:,.0f}", f"{x:.0f}")
    return (_sci(f"{x:.{digits}g}"), _sci(f"{x:.{digits - 1}e}"))


def _si(x: float, digits: int) -> str:
    """12.3k, 1.5M, 4.2G, 7T; a value that rounds up to 1000 of one prefix takes the next."""
    for power, prefix in enumerate("kMGT", start=1):
        text = f"{x / 1000**power:.{digits}g}"
        if "e" not in text and abs(float(text)) < 1000:
            return text + prefix
    return _sci(f"{x:.{digits - 1}e}")


def _sci(text: str) -> str:
    """Python's exponent written short: 2.61e-05 -> 2.61e-5, 1.50e+22 -> 1.5e22."""
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"
