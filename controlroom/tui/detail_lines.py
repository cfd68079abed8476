"""The detail screen's one-line texts: the diagnosis, the overlays, the marks, and a
trial's window and verdict. Pure: values in, Rich Text out."""

from __future__ import annotations

from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import clock
from controlroom.tui.history import Mark
from controlroom.tui.learning import MARK_COLORS, OVERLAY_COLORS, trial_end
from controlroom.tui.widgets.policy import figure, trial_part

MARK_TEXT = 48
"""Characters of a mark's message on the marks line (four marks share it)."""
SHOWN_MARKS = 4


def diagnosis_line(reasons: list[str]) -> Text:
    """'⚠ looks wrong: ...' with every reason, or that nothing does."""
    if not reasons:
        return Text("diagnosis: nothing looks wrong", style="dim")
    return Text("⚠ looks wrong: " + "; ".join(reasons))


def overlay_line(overlays: list[str]) -> Text:
    """The overlaid games, each in its plot colour."""
    if not overlays:
        return Text("overlay: none (o adds a game)", style="dim")
    text = Text("overlay: ")
    for i, game in enumerate(overlays):
        color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
        text.append(("  " if i else "") + f"━ {game}", style=color)
    return text


def marks_line(marks: list[Mark]) -> Text:
    """The newest marks: kind in its colour, time, what happened."""
    if not marks:
        return Text("marks: none", style="dim")
    text = Text("marks: ")
    for mark in marks[-SHOWN_MARKS:]:
        text.append(f"│{mark.kind} ", style=f"bold {MARK_COLORS.get(mark.kind, 'white')}")
        text.append(f"{clock(mark.time)} {mark.message[:MARK_TEXT]}  ")
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def trial_window(trial: protocol.AnyTrial) -> Text:
    """What the trial view's x = 0 and its end mark are, and what each side is."""
    end = trial_end(trial)
    sides = (
        "current settings beside the candidate's own run"
        if isinstance(trial, protocol.BesideTrial)
        else "the trial window against the same length before it"
    )
    text = Text("marks: ")
    text.append("│trial_start ", style=f"bold {MARK_COLORS['trial_start']}")
    text.append(f"{clock(trial.started_at)} (x = 0)  ")
    if end is not None:
        text.append("│trial_end ", style=f"bold {MARK_COLORS['trial_end']}")
        text.append(f"{clock(end)}  ")
    text.append(f"· {sides}", style="dim")
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def verdict(trial: protocol.AnyTrial, now: float) -> Text:
    """The trial's line as the policy panel writes it, plus its other figures side by side."""
    text = trial_part(trial, now)
    for row in trial.comparison or []:
        if row.figure not in ("episodes_per_hour", "sps"):
            text.append(f" · {row.figure} {figure(row.current)}→{figure(row.trial)}")
    text.no_wrap, text.overflow = True, "ellipsis"
    return text
