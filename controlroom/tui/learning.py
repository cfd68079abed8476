"""What each plot of the detail screen draws: traces and marks built from the kept
histories and the screen's settings (x axis, smoothing, overlays, trial view). Pure, so
the tests check the plot's data without reading pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controlroom import protocol
from controlroom.tui.history import STEP, WALL, RunHistory, TimeUnit, ema, wall_unit

SMOOTHING = (0.0, 0.6, 0.9)
"""The EMA weights the smoothing key cycles through (TensorBoard's slider, in three steps)."""

LEARNING = (
    ("return_mean", "episodic return"),
    ("length_mean", "episode length"),
    ("episodes_per_hour", "episodes/hour"),
    ("sps", "steps/s"),
)
PPO = (
    ("policy_loss", "policy loss"),
    ("value_loss", "value loss"),
    ("entropy", "entropy"),
    ("approx_kl", "approx KL"),
    ("clip_fraction", "clip fraction"),
    ("learning_rate", "learning rate"),
)
PAGES = {"learning": LEARNING, "ppo": PPO}
"""The plots, in two pages: is it learning, and how PPO's update behaves."""

EVAL_COLOR = "bright_green"
"""The evaluation scores' line on the return plot, and the pane's last eval score."""
OVERLAY_COLORS = ("yellow", "magenta", "green", "blue", "white")
"""Colours Rich knows by name: the plot and the compare line show the same one."""
MARK_COLORS = {
    "start": "green",
    "resume": "green",
    "checkpoint_restored": "green",
    "restart": "red",
    "crash": "red",
    "reboot": "magenta",
    "migration": "yellow",
    "rollback": "yellow",
    "trial_start": "cyan",
    "trial_end": "cyan",
    "tune": "blue",
}


@dataclass(frozen=True)
class Trace:
    """One line of a plot."""

    label: str
    xs: list[float]
    ys: list[float]
    color: str
    dim: bool = False
    """Drawn faint: the raw values under a smoothed line, a min-max band's edges."""


@dataclass(frozen=True)
class PlotMark:
    """A vertical line on the x axis: what happened there."""

    x: float
    kind: str
    color: str


@dataclass
class View:
    """The screen's settings that shape every plot."""

    axis: str = STEP
    smoothing: float = 0.0
    log_y: bool = False
    overlays: list[str] = field(default_factory=list)
    """Other games drawn on the same axes, in the order they were added."""
    trial: protocol.AnyTrial | None = None
    """The trial record (policy.trials[game]) while the trial view is on."""


def x_unit(main: RunHistory, others: dict[str, RunHistory], view: View) -> TimeUnit | None:
    """The unit of the wall-time axis (None on the step axis), one for every plot of the
    screen: from the longest run shown (in the trial view, the trial's window)."""
    if view.axis != WALL:
        return None
    if view.trial is not None:
        t = view.trial
        last = main.rows[-1][0] if main.rows else None
        end = trial_end(t) or last or t.started_at
        return wall_unit(end - t.started_at)
    shown = [main, *(others[g] for g in view.overlays if g in others)]
    return wall_unit(max(run.wall_span() for run in shown))


def x_label(main: RunHistory, others: dict[str, RunHistory], view: View) -> str:
    """The x axis's name: "global step", or "wall time (hours)" in the unit drawn."""
    unit = x_unit(main, others, view)
    return "global step" if unit is None else f"wall time ({unit.name})"


def traces(column: str, main: RunHistory, others: dict[str, RunHistory], view: View) -> list[Trace]:
    """The lines of one plot: the game's own (with the min-max band under the mean
    return), then one per overlaid game; or, in the trial view, the trial's two sides.
    Wall time is drawn in the screen's unit (x_unit)."""
    unit = x_unit(main, others, view)
    drawn = traces_in_seconds(column, main, others, view)
    if unit is None or unit.seconds == 1.0:
        return drawn
    return [replace(t, xs=[x / unit.seconds for x in t.xs]) for t in drawn]


def traces_in_seconds(
    column: str, main: RunHistory, others: dict[str, RunHistory], view: View
) -> list[Trace]:
    """`traces` with wall time in seconds."""
    if view.trial is not None:
        return trial_traces(column, main, others.get("trial"), view)
    out = own_traces(column, main, view, color="cyan", label=main.game)
    for i, game in enumerate(view.overlays):
        if game in others:
            xs, ys = others[game].series(column, view.axis)
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            out.append(Trace(game, xs, ema(ys, view.smoothing), color))
    return out


def own_traces(column: str, run: RunHistory, view: View, *, color: str, label: str) -> list[Trace]:
    xs, ys = run.series(column, view.axis)
    out = []
    if column == "return_mean":
        for edge in ("return_min", "return_max"):
            ex, ey = run.series(edge, view.axis)
            out.append(Trace(edge.split("_")[1], ex, ey, "gray", dim=True))
    if view.smoothing > 0:
        out.append(Trace(f"{label} raw", xs, ys, color, dim=True))
    out.append(Trace(label, xs, ema(ys, view.smoothing), color))
    if column == "return_mean":
        # The evaluations' mean scores (agent/evaluation/), unsmoothed: each is already
        # the mean of several whole episodes of the policy as it was at that checkpoint.
        ex, ey = run.series("eval_mean", view.axis)
        if ey:
            out.append(Trace("eval", ex, ey, EVAL_COLOR))
    return out


def trial_traces(
    column: str, main: RunHistory, trial_run: RunHistory | None, view: View
) -> list[Trace]:
    """Both sides of a trial from its start (x = 0): `beside` the candidate's own run
    against the game's run over the same time; `instead` the trial window against the
    same length just before it on the same run."""
    t = view.trial
    if t is None:
        return []
    start = t.started_at
    end = trial_end(t) or t.ends_at or None
    if isinstance(t, protocol.BesideTrial):
        cx, cy = main.aligned(column, view.axis, start, end)
        tx, ty = (trial_run.aligned(column, view.axis, start, end)) if trial_run else ([], [])
        current, candidate = Trace("current", cx, cy, "cyan"), Trace("candidate", tx, ty, "yellow")
    else:
        last = main.rows[-1][0] if main.rows else start
        length = (end if end is not None else last or start) - start
        bx, by = main.aligned(column, view.axis, start - length, start)
        tx, ty = main.aligned(column, view.axis, start, end)
        current, candidate = Trace("before", bx, by, "cyan"), Trace("trial", tx, ty, "yellow")
    return [
        Trace(tr.label, tr.xs, ema(tr.ys, view.smoothing), tr.color) for tr in (current, candidate)
    ]


def marks(main: RunHistory, others: dict[str, RunHistory], view: View) -> list[PlotMark]:
    """The game's marks on the x axis (in the trial view: its start, and its end once
    known, at their place from the trial's start), wall time in the screen's unit."""
    unit = x_unit(main, others, view)
    placed = marks_in_seconds(main, view)
    if unit is None or unit.seconds == 1.0:
        return placed
    return [replace(m, x=m.x / unit.seconds) for m in placed]


def marks_in_seconds(main: RunHistory, view: View) -> list[PlotMark]:
    """`marks` with wall time in seconds."""
    if view.trial is not None:
        return trial_marks(main, view)
    out = []
    for mark in main.marks:
        x = main.mark_x(mark, view.axis)
        if x is not None:
            out.append(PlotMark(x, mark.kind, MARK_COLORS.get(mark.kind, "white")))
    return out


def trial_marks(main: RunHistory, view: View) -> list[PlotMark]:
    t = view.trial
    if t is None:
        return []
    start, end = t.started_at, trial_end(t)
    out = [PlotMark(0.0, "trial_start", MARK_COLORS["trial_start"])]
    if end is not None:
        if view.axis == WALL:
            out.append(PlotMark(end - start, "trial_end", MARK_COLORS["trial_end"]))
        else:
            xs, _ = main.aligned("global_step", STEP, start, end)
            if xs:
                out.append(PlotMark(xs[-1], "trial_end", MARK_COLORS["trial_end"]))
    return out


def trial_end(t: protocol.AnyTrial) -> float | None:
    """When the trial ended: its `ended_at`, or (a finished record without one) its
    `ends_at`; None while it runs."""
    if t.status == "running":
        return None
    return t.ended_at or t.ends_at or None
