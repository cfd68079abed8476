"""A game's tune (protocol.TuneState, agent/policy/tune.py) as the tune screen shows it:
the status line, the rungs table, the chosen shape with the plan's days and cost before
and after, and the plot's traces. Pure: TuneState in, Rich and traces out."""

from __future__ import annotations

import math

from rich import box
from rich.table import Table
from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import count, duration, gib
from controlroom.tui.learning import Trace
from controlroom.tui.plan_view import days, dollars

UNKNOWN = "-"
VERDICT_STYLES = {
    "ok": "green",
    "unstable": "red",
    "over_budget": "yellow",
    "hot": "yellow",
    "diminishing": "dim",
    "pending": "dim",
    "running": "bold cyan",
}
MINUTE_CHOICES = (6.0, 12.0, 24.0, 48.0)
"""Offered in the minutes modal beside the config's default."""


def minute_choices(default: float) -> list[tuple[str, str]]:
    """(value, label) pairs for the minutes modal: the config's default first."""
    others = [m for m in MINUTE_CHOICES if m != default]
    return [
        (f"{m:g}", f"{m:g} minutes" + (" (default)" if m == default else ""))
        for m in (default, *others)
    ]


def status_line(t: protocol.TuneState, now: float) -> Text:
    """What the tune is doing: its status, the rung running, time spent of its budget."""
    spent = (t.ended_at or now) - t.started_at if t.started_at else 0.0
    text = Text(f"{t.game}: tune {t.status}", style="bold")
    if t.waiting:
        text.append(" · waiting for another game's tune")
    if t.current is not None and t.current < len(t.rungs):
        rung = t.rungs[t.current]
        text.append(f" · rung {t.current + 1}/{len(t.rungs)}: {rung.num_envs} envs")
    elif t.recheck is not None and t.rechecking:
        text.append(f" · its own shape again: {t.recheck.num_envs} envs")
    text.append(f" · {duration(spent)} of {t.minutes:g} min")
    if t.ceiling is not None:
        text.append(f" · unstable at {t.ceiling} envs", style="red")
    if t.reason:
        text.append(f" · {t.reason}", style="dim")
    return text


def memory(r: protocol.TuneRung) -> float | None:
    """A rung's memory: its GPU memory (per env times envs) where a GPU measured it,
    else the candidate's host RAM."""
    if r.gpu_mem_per_env is not None:
        return r.gpu_mem_per_env * r.num_envs
    return float(r.rss) if r.rss is not None else None


def rungs_table(t: protocol.TuneState) -> Table:
    """One row per rung: its shape, threads, what it measured, its verdict and why; the
    recheck (the own shape after the climb) last, its envs marked "again"."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for name in ("envs", "minibatch", "threads", "steps/s", "game steps/s", "eps/h", "memory"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("why", style="dim", overflow="fold")
    chosen = t.chosen
    for envs, r in t.rows():
        picked = (
            r is not t.recheck
            and chosen is not None
            and (r.num_envs, r.minibatch_size)
            == (
                chosen.num_envs,
                chosen.minibatch_size,
            )
        )
        table.add_row(
            envs,
            f"{r.minibatch_size}",
            r.threads_label or UNKNOWN,
            count(r.steps_per_s) if r.steps_per_s is not None else UNKNOWN,
            count(r.game_steps_per_s) if r.game_steps_per_s is not None else UNKNOWN,
            count(r.eps_per_h) if r.eps_per_h is not None else UNKNOWN,
            gib(m) if (m := memory(r)) is not None else UNKNOWN,
            Text(r.verdict + (" ★" if picked else ""), style=VERDICT_STYLES.get(r.verdict, "")),
            r.reason,
        )
    return table


def outcome_lines(t: protocol.TuneState, apply_key: str) -> Text:
    """The chosen shape and the plan's figures to the target before and after; what the
    apply key does (or why there is nothing to apply)."""
    b, a = t.before, t.after
    lines = Text()
    if t.chosen is None:
        lines.append("no shape chosen yet" if t.status == "running" else "no shape chosen")
    else:
        c = t.chosen
        lines.append(f"chosen: {c.num_envs} envs, minibatch {c.minibatch_size}", style="bold")
        if c.steps_per_s is not None:
            lines.append(f" · {count(c.steps_per_s)} steps/s")
    lines.append(
        f"\nto target: {days(b.days)} {dollars(b.cost)} at {_eph(b)} eps/h before → "
        f"{days(a.days)} {dollars(a.cost)} at {_eph(a)} eps/h after"
    )
    if t.applied:
        lines.append("\napplied (a migration with a snapshot: rollback undoes it)", style="green")
    elif t.chosen is not None and t.status == "finished":
        lines.append(f"\n{apply_key}: apply it (a migration with a snapshot; rollback undoes it)")
    return lines


def _eph(f: protocol.TuneFigures) -> str:
    return count(f.episodes_per_hour) if f.episodes_per_hour is not None else UNKNOWN


def measured(t: protocol.TuneState) -> list[protocol.TuneRung]:
    """The rungs with a steps/s figure, by envs: what the plot draws."""
    return sorted((r for r in t.rungs if r.steps_per_s is not None), key=lambda r: r.num_envs)


def x_of(envs: int) -> float:
    """Envs double from rung to rung: the plot's x is log2 of them, evenly spaced."""
    return math.log2(max(envs, 1))


def rate_traces(t: protocol.TuneState) -> tuple[list[Trace], list[Trace]]:
    """The first plot's traces: steps/s (the host's, and the game's own) on the left
    axis, memory on the right."""
    rungs = measured(t)
    xs = [x_of(r.num_envs) for r in rungs]
    left = [Trace("host steps/s", xs, [r.steps_per_s or 0.0 for r in rungs], "cyan")]
    own = [(x_of(r.num_envs), r.game_steps_per_s) for r in rungs]
    if any(y is not None for _, y in own):
        pairs = [(x, y) for x, y in own if y is not None]
        left.append(Trace("game steps/s", [p[0] for p in pairs], [p[1] for p in pairs], "blue"))
    return left, _memory_traces(rungs)


def eps_traces(t: protocol.TuneState) -> tuple[list[Trace], list[Trace]]:
    """The second plot's: eps/h on the left axis, memory on the right."""
    rungs = [r for r in measured(t) if r.eps_per_h is not None]
    xs = [x_of(r.num_envs) for r in rungs]
    left = [Trace("eps/h", xs, [r.eps_per_h or 0.0 for r in rungs], "green")] if rungs else []
    return left, _memory_traces(measured(t))


def _memory_traces(rungs: list[protocol.TuneRung]) -> list[Trace]:
    pairs = [(x_of(r.num_envs), m / 2**30) for r in rungs if (m := memory(r)) is not None]
    if not pairs:
        return []
    return [Trace("memory GiB (right)", [p[0] for p in pairs], [p[1] for p in pairs], "magenta")]
