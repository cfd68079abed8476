"""TunePlot: the tune's figures against envs, a second y axis on the right for memory.

The detail screen's braille renderer (plots.MetricPlot) with two changes: the traces
given as `right` are scaled to their own range and labelled right of the canvas, and
the x axis is ticked at the ladder's envs (the x values are log2 of them, tune_view.x_of:
each rung doubles its envs)."""

from __future__ import annotations

from controlroom.tui.learning import Trace
from controlroom.tui.widgets.braille import Canvas
from controlroom.tui.widgets.plots import RICH_COLORS, Y_LABEL_W, Line, MetricPlot, _span, short


class TunePlot(MetricPlot):
    """Left traces on the left axis, right traces (memory) on their own right axis."""

    def __init__(self, name: str, title: str) -> None:
        """Args: name: the widget's id part; title: its heading."""
        super().__init__(name, title)
        self.right: list[Trace] = []
        """The traces on the right axis (the tests read these)."""

    def show_tune(self, left: list[Trace], right: list[Trace]) -> None:
        """Draw these (nothing happens when they are what is drawn)."""
        if right == self.right and left == self.traces:
            return
        self.right = right
        self.traces = []  # so show() sees a change and redraws
        self.show(left, [], log_y=False, x_label="envs")

    def title_line(self, width: int, has_data: bool) -> Line:
        line = super().title_line(width, has_data)
        return line + [(f"  ━ {t.label}", RICH_COLORS.get(t.color, t.color)) for t in self.right]

    def draw(self, width: int, height: int) -> list[Line]:
        right = [t for t in self.right if t.xs]
        if not right:
            return super().draw(width, height)
        cw, ch = max(width - 2 * Y_LABEL_W, 4), max(height - 3, 2)
        left = [t for t in self.traces if t.xs]
        xs = [x for t in left + right for x in t.xs]
        title = self.title_line(width, bool(left))
        if not left:
            return [title]
        x0, x1 = _span(xs)
        canvas = Canvas(cw, ch)
        ranges = [
            (t, _span([y for s in group for y in s.ys])) for group in (right, left) for t in group
        ]
        for trace, (y0, y1) in ranges:
            self._plot(canvas, trace, (x0, x1, y0, y1))
        ly0, ly1 = _span([y for t in left for y in t.ys])
        ry0, ry1 = _span([y for t in right for y in t.ys])
        rows = [
            [
                (self.y_label(ly0, ly1, i, ch), "dim"),
                *canvas.row(i),
                (_right_label(ry0, ry1, i, ch), "dim"),
            ]
            for i in range(ch)
        ]
        return [title, *rows, *self.x_axis(x0, x1, cw)]

    @staticmethod
    def _plot(canvas: Canvas, trace: Trace, box: tuple[float, float, float, float]) -> None:
        """Draw a trace scaled to `box` (x0, x1, y0, y1) on the whole canvas."""
        x0, x1, y0, y1 = box
        cw, ch = canvas.width, canvas.height
        dots = [
            (round((x - x0) / (x1 - x0) * (2 * cw - 1)), round((y1 - y) / (y1 - y0) * (4 * ch - 1)))
            for x, y in zip(trace.xs, trace.ys, strict=True)
        ]
        color = RICH_COLORS.get(trace.color, trace.color)
        for a, b in zip(dots, dots[1:] or dots, strict=False):
            canvas.line(*a, *b, color)

    def x_axis(self, x0: float, x1: float, cw: int) -> list[Line]:
        """Ticks at the rungs' envs (2 ** x), not at five even values between them."""
        ticks = sorted({x for t in self.traces + self.right for x in t.xs})
        line, labels = ["─"] * cw, [" "] * (cw + Y_LABEL_W)
        for x in ticks:
            col = round((x - x0) / (x1 - x0) * (cw - 1)) if x1 > x0 else 0
            line[col] = "┴"
            label = f"{round(2**x)}"
            start = min(max(Y_LABEL_W + col - len(label) // 2, 0), cw + Y_LABEL_W - len(label))
            if all(c == " " for c in labels[max(start - 1, 0) : start + len(label) + 1]):
                labels[start : start + len(label)] = label
        axis = (" " * (Y_LABEL_W - 1) + "└" + "".join(line), "dim")
        return [[axis], [("".join(labels).rstrip(), "dim"), (f"  {self.x_label}", "dim italic")]]


def _right_label(y0: float, y1: float, row: int, rows: int) -> str:
    """The right axis beside a canvas row: top, middle and bottom name their value."""
    if row not in (0, rows // 2, rows - 1):
        return "│"
    return "├" + short(y1 - (y1 - y0) * row / max(rows - 1, 1))
