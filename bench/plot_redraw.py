"""CPU of one detail-screen plot's redraw (show() with a point more, then painted), 60x15
cells, 3 lines of 2,000 points (a mean and its min-max band's edges) and 2 marks, for
each way of drawing it that bench/tui_latency.py --plot knows (figures, not pass/fail):

    .venv/bin/python bench/plot_redraw.py [braille textual-plot textual-plot-thinned
        textual-plotext]

The maintained widgets need their packages installed (bench/plot_textual_plot.py,
bench/plot_textual_plotext.py); bench/RESULTS.md has the figures.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult

from controlroom.tui.learning import PlotMark, Trace
from controlroom.tui.widgets.plots import MetricPlot

WIDGETS = ("braille", "textual-plot", "textual-plot-thinned", "textual-plotext")
MARKS = [PlotMark(2048.0 * 500, "restart", "red"), PlotMark(2048.0 * 1500, "reboot", "yellow")]
REDRAWS = 20


def widget_class(name: str) -> Any:
    if name == "braille":
        return MetricPlot
    if name == "textual-plotext":
        from bench.plot_textual_plotext import TextualPlotextMetric

        return TextualPlotextMetric
    from bench.plot_textual_plot import TextualPlotMetric

    TextualPlotMetric.thin = name.endswith("thinned")
    return TextualPlotMetric


def traces(n: int) -> list[Trace]:
    xs = [2048.0 * i for i in range(n)]
    mean = [20 + i / 10 + 5 * math.sin(i / 30) for i in range(n)]
    return [
        Trace("min", xs, [m - 10 for m in mean], "gray", dim=True),
        Trace("max", xs, [m + 10 for m in mean], "gray", dim=True),
        Trace("MsPacman", xs, mean, "cyan"),
    ]


class OnePlot(App[None]):
    CSS = "#plot-return_mean { width: 60; height: 15; }"

    def __init__(self, cls: Any) -> None:
        super().__init__()
        self.cls = cls

    def compose(self) -> ComposeResult:
        yield self.cls("return_mean", "episodic return")


async def redraw_ms(name: str) -> float:
    """CPU ms a redraw, less what as many idle pauses cost."""
    app = OnePlot(widget_class(name))
    async with app.run_test(size=(80, 20)) as pilot:
        plot: Any = app.query_one("#plot-return_mean")
        plot.show(traces(1990), MARKS, log_y=False, x_label="global step")
        await pilot.pause()
        c0 = time.process_time()
        for i in range(REDRAWS):
            plot.show(traces(1991 + i), MARKS, log_y=False, x_label="global step")
            await pilot.pause()
        c1 = time.process_time()
        for _ in range(REDRAWS):
            await pilot.pause()
        c2 = time.process_time()
    return ((c1 - c0) - (c2 - c1)) / REDRAWS * 1000


def main() -> None:
    for name in sys.argv[1:] or WIDGETS:
        if name not in WIDGETS:
            raise SystemExit(f"unknown widget {name!r}: one of {', '.join(WIDGETS)}")
        try:
            ms = asyncio.run(redraw_ms(name))
        except ModuleNotFoundError as e:
            package = name.removesuffix("-thinned")
            raise SystemExit(f"{name} needs `.venv/bin/pip install {package}` ({e})") from e
        print(f"{name}: {ms:.1f} ms CPU a plot redraw")


if __name__ == "__main__":
    main()
