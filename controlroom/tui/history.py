"""A game's learning history as the TUI keeps it: the `history` op's replies merged
(a full one on opening, then only newer rows after the cursor), and the series the
detail screen plots from it. Pure: replies in, numbers out; no Textual here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from controlroom.protocol import HISTORY_COLUMNS, HISTORY_POINTS

KEEP_ROWS = 2 * HISTORY_POINTS
"""Rows kept per run on the laptop: past this, the older half is thinned to every other
row (fine recent, coarse old, as the agent keeps it), so a screen left open for days
stays small."""

STEP, WALL = "step", "wall"
"""The x axis: the trainer's global step, or wall time (seconds since the first row,
drawn in the unit `wall_unit` picks from the span)."""


@dataclass(frozen=True)
class TimeUnit:
    """A unit the wall-time axis is drawn in."""

    name: str
    seconds: float


WALL_UNITS = (
    (120.0, TimeUnit("seconds", 1.0)),
    (3 * 3600.0, TimeUnit("minutes", 60.0)),
    (2 * 86400.0, TimeUnit("hours", 3600.0)),
    (math.inf, TimeUnit("days", 86400.0)),
)
"""(span below which, unit): the axis keeps a handful of short labels, so a 10-hour run
reads 0 to 10 hours, not 0 to 600 minutes, and a minute-old one 0 to 60 seconds."""


def wall_unit(span_s: float) -> TimeUnit:
    """The unit for a wall-time axis spanning `span_s` seconds."""
    return next(unit for below, unit in WALL_UNITS if span_s < below)


@dataclass(frozen=True)
class Mark:
    """Something that happened to the run (a restart, a reboot...), placed on the x axis."""

    time: float
    global_step: int | None
    kind: str
    message: str


@dataclass
class RunHistory:
    """One run's rows (oldest first, one value per HISTORY_COLUMNS entry, None where
    missing), its marks, the cursor for the next request and the agent's diagnosis."""

    game: str
    run: str = "main"
    rows: list[list[float | None]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    cursor: float | None = None
    diagnosis: list[dict[str, str]] = field(default_factory=list)

    def merge(self, reply: Any) -> int:
        """Take a `history` reply: its rows newer than ours appended (a repeated one is
        not shown twice), its marks added once each, cursor and diagnosis replaced.
        Returns how many rows were new. ValueError on a reply of another shape (and then
        nothing changes)."""
        columns, rows, marks = _parts(reply)
        index = [columns.index(c) if c in columns else -1 for c in HISTORY_COLUMNS]
        last = self.rows[-1][0] if self.rows else None
        fresh = [
            [_number(row[i]) if 0 <= i < len(row) else None for i in index]
            for row in rows
            if isinstance(row, list)
        ]
        fresh = [r for r in fresh if r[0] is not None and (last is None or r[0] > last)]
        self.rows.extend(fresh)
        if len(self.rows) > KEEP_ROWS:
            half = len(self.rows) // 2
            self.rows = self.rows[:half:2] + self.rows[half:]
        known = {(m.time, m.kind) for m in self.marks}
        for mark in marks:
            if (mark.time, mark.kind) not in known:
                known.add((mark.time, mark.kind))
                self.marks.append(mark)
        self.marks.sort(key=lambda m: m.time)
        if isinstance(reply.get("cursor"), int | float):
            self.cursor = float(reply["cursor"])
        if isinstance(reply.get("diagnosis"), list):
            self.diagnosis = [_reason(d) for d in reply["diagnosis"] if isinstance(d, dict)]
        return len(fresh)

    def column(self, name: str) -> list[float | None]:
        """One column's values, row by row."""
        i = HISTORY_COLUMNS.index(name)
        return [row[i] for row in self.rows]

    def xs(self, axis: str) -> list[float | None]:
        """The x of each row: its global step, or seconds since the first row."""
        if axis == STEP:
            return self.column("global_step")
        start = self.rows[0][0] if self.rows else 0.0
        return [None if t is None else t - (start or 0.0) for t in self.column("time")]

    def wall_span(self) -> float:
        """Seconds from the first row to the last (0 with fewer than two)."""
        return (self.rows[-1][0] or 0.0) - (self.rows[0][0] or 0.0) if self.rows else 0.0

    def series(self, name: str, axis: str) -> tuple[list[float], list[float]]:
        """(xs, ys) of one column over the axis, rows where either is missing left out."""
        return _pairs(self.xs(axis), self.column(name))

    def aligned(
        self, name: str, axis: str, start: float, end: float | None = None
    ) -> tuple[list[float], list[float]]:
        """One column over the rows whose time lies in [start, end], x shifted so that
        the first of them sits at 0: two runs (or two windows of one run) read from the
        same origin, the trial's start."""
        keep = [start <= (r[0] or 0.0) and (end is None or (r[0] or 0.0) <= end) for r in self.rows]
        xs = [x for x, k in zip(self.xs(axis), keep, strict=True) if k]
        ys = [y for y, k in zip(self.column(name), keep, strict=True) if k]
        origin = next((x for x in xs if x is not None), 0.0)
        return _pairs([None if x is None else x - origin for x in xs], ys)

    def mark_x(self, mark: Mark, axis: str) -> float | None:
        """Where a mark sits on the axis: its step (or, when it has none, the step of the
        last row before it), or its second since the first row; None before the first row."""
        first = self.rows[0][0] if self.rows else None
        if axis == WALL:
            return None if first is None else mark.time - first
        if mark.global_step is not None:
            return float(mark.global_step)
        before = [r[1] for r in self.rows if (r[0] or 0.0) <= mark.time and r[1] is not None]
        return before[-1] if before else None


def _pairs(xs: list[float | None], ys: list[float | None]) -> tuple[list[float], list[float]]:
    """The points where both x and y are known."""
    out_x, out_y = [], []
    for x, y in zip(xs, ys, strict=True):
        if x is not None and y is not None:
            out_x.append(x)
            out_y.append(y)
    return out_x, out_y


def _parts(reply: Any) -> tuple[list[str], list[Any], list[Mark]]:
    if not isinstance(reply, dict):
        raise ValueError(f"a history reply is an object, not {type(reply).__name__}")
    columns, rows = reply.get("columns"), reply.get("rows")
    if not isinstance(columns, list) or "time" not in columns:
        raise ValueError("a history reply names its columns, time among them")
    if not isinstance(rows, list):
        raise ValueError("a history reply's rows are a list")
    marks = [_mark(m) for m in reply.get("marks") or [] if isinstance(m, dict)]
    return [str(c) for c in columns], rows, [m for m in marks if m is not None]


def _mark(m: dict[str, Any]) -> Mark | None:
    t, step = _number(m.get("time")), m.get("global_step")
    if t is None:
        return None
    step = int(step) if isinstance(step, int | float) and not isinstance(step, bool) else None
    return Mark(t, step, str(m.get("kind") or "?"), str(m.get("message") or ""))


def _reason(d: dict[str, Any]) -> dict[str, str]:
    return {"code": str(d.get("code") or ""), "message": str(d.get("message") or "")}


def _number(v: Any) -> float | None:
    """A finite number as float; anything else (null, text, a bool) as missing."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first
    points are not pulled towards zero. weight 0 returns the values as they are."""
    if weight <= 0:
        return list(values)
    out, last, norm = [], 0.0, 0.0
    for v in values:
        last = last * weight + (1 - weight) * v
        norm = norm * weight + (1 - weight)
        out.append(last / norm)
    return out


def thin(xs: list[float], ys: list[float], points: int) -> tuple[list[float], list[float]]:
    """At most `points` of a series, evenly picked (the last one kept): a plot `w`
    columns wide shows no more than 2w points, and drawing fewer is what keeps the
    screen cheap at 2 Hz."""
    if len(xs) <= points or points < 2:
        return xs, ys
    step = (len(xs) - 1) / (points - 1)
    picks = sorted({round(i * step) for i in range(points)})
    return [xs[i] for i in picks], [ys[i] for i in picks]
