"""The detail screen's drawing, without a screen: smoothing, thinning, the braille canvas
and a plot's lines (title and legend, y labels, marks, x ticks, a log axis)."""

from __future__ import annotations

from controlroom.tui.history import ema, thin
from controlroom.tui.learning import PlotMark, Trace
from controlroom.tui.widgets.braille import BRAILLE, Canvas
from controlroom.tui.widgets.plots import MetricPlot, short


def plain(line: list[tuple[str, str]]) -> str:
    return "".join(chars for chars, _ in line)


def test_ema_is_tensorboards_debiased_average() -> None:
    assert ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    smooth = ema([10.0, 10.0, 20.0], 0.6)
    assert smooth[0] == 10.0  # debiased: the first point is not pulled towards zero
    assert 10.0 < smooth[2] < 20.0


def test_thin_keeps_the_ends_and_at_most_the_points_asked() -> None:
    xs = [float(i) for i in range(1000)]
    tx, ty = thin(xs, xs, 50)
    assert len(tx) == 50 and tx[0] == 0.0 and tx[-1] == 999.0 and tx == ty
    assert thin(xs[:10], xs[:10], 50) == (xs[:10], xs[:10])


def test_canvas_lines_rules_and_colours() -> None:
    canvas = Canvas(3, 1)
    canvas.line(0, 0, 0, 3, "cyan")  # the left column of the first cell, top to bottom
    canvas.rule(2, "red")
    assert canvas.row(0) == [
        (chr(BRAILLE + 0x01 + 0x02 + 0x04 + 0x40), "cyan"),
        (" ", ""),
        ("│", "red"),  # a mark's rule where no dot is
    ]
    canvas.line(0, 0, 5, 0, "yellow")  # through the rule's cell: the dots win
    assert all(chars != "│" for chars, _ in canvas.row(0))
    assert canvas.text(0).plain == "".join(chars for chars, _ in canvas.row(0))


def test_a_plot_draws_its_title_legend_marks_and_ticks() -> None:
    plot = MetricPlot("return_mean", "episodic return")
    xs = [2048.0 * i for i in range(100)]
    plot.traces = [
        Trace("min", xs, [float(i) - 5 for i in range(100)], "gray", dim=True),
        Trace("CartPole", xs, [float(i) for i in range(100)], "cyan"),
    ]
    plot.marks = [PlotMark(xs[50], "reboot", "magenta")]
    plot.x_label = "global step"
    lines = plot.draw(60, 14)
    assert plain(lines[0]) == "episodic return  ━ CartPole"  # the dim band has no legend
    assert len(lines) == 14 and plain(lines[1]).startswith("     99┤")
    assert plain(lines[-3]).startswith("     -5┤")  # the bottom row names the minimum
    assert any(("│", "magenta") in line for line in lines[1:-2])
    assert plain(lines[-2]).startswith("       └┴")
    ticks = plain(lines[-1]).split()
    assert ticks[0] == "0" and ticks[-3:] == ["203k", "global", "step"]


def test_log_axis_leaves_out_what_it_cannot_show_and_says_so() -> None:
    plot = MetricPlot("policy_loss", "policy loss")
    trace = Trace("CartPole", [0.0, 1.0, 2.0, 3.0], [-0.01, 0.1, 1.0, 10.0], "cyan")
    plot.show([trace], [], log_y=True, x_label="global step")
    assert plot.hidden == 1
    lines = plot.draw(60, 10)
    assert "(1 points <= 0 off the log axis)" in plain(lines[0])
    assert plain(lines[1]).strip().startswith("10┤") and plain(lines[-3]).strip()[:4] == "0.1┤"


def test_an_empty_plot_says_it_has_no_data_yet() -> None:
    plot = MetricPlot("sps", "steps/s")
    assert [plain(line) for line in plot.draw(60, 10)] == ["steps/s: no data yet"]


def test_short_axis_labels() -> None:
    assert [short(x) for x in (0, 0.00025, 12.5, 512, 1560, 61440, 2_527_232)] == [
        "0",
        "0.00025",
        "12.5",
        "512",
        "1,560",
        "61.4k",
        "2.53M",
    ]
