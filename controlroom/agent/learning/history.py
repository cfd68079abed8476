"""A game's learning curve in bounded memory: rows of protocol.HISTORY_COLUMNS, fine
recent and coarse old, and the marks of what happened to the run.

Pure: it is fed parsed metrics lines (docs/trainer-contract.md) and agent events, and
answers the `history` op's request; the files and the store are history_files.py's and
learning.py's. Rows are kept in time order and a row not newer than the newest one is
dropped, so whatever reads the same line twice (a tail starting over, a rebuild meeting
the live tail) adds it once.

Bounded in two tiers: when the rows outgrow `capacity`, the newest half stays as it is
(every update) and the older rows are thinned to a quarter of `capacity`, spread evenly
over their time span, the oldest included (where the curve began). So recent is fine,
old is coarse but even (a ten-million-step run keeps its whole shape), the newest row is
always kept and the count stays within `capacity`. Every row kept is one real update's
figures, as TensorBoard's sampling keeps real points: a merged mean would move the
curve's start and blur the step at which something happened.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from controlroom.protocol import (
    HISTORY_COLUMNS,
    HISTORY_POINTS,
    INT_MAX,
    INT_MIN,
    MARK_KINDS,
    Diagnosis,
    Event,
    JSONObject,
    LearningCurve,
    Mark,
)

Value = float | int | None
Row = list[Value]

# metrics.jsonl key of each column (trainer/metrics.py writes them on update lines).
SOURCES: dict[str, str] = {
    "time": "time",
    "global_step": "global_step",
    "return_mean": "charts/episodic_return_mean",
    "return_min": "charts/episodic_return_min",
    "return_max": "charts/episodic_return_max",
    "length_mean": "charts/episodic_length_mean",
    "episodes_per_hour": "charts/episodes_per_hour",
    "sps": "charts/SPS",
    "policy_loss": "losses/policy_loss",
    "value_loss": "losses/value_loss",
    "entropy": "losses/entropy",
    "approx_kl": "losses/approx_kl",
    "clip_fraction": "losses/clipfrac",
    "learning_rate": "charts/learning_rate",
    "eval_mean": "eval/mean",  # on the agent's evaluation lines (agent/evaluation/)
}
COLUMN = {name: i for i, name in enumerate(HISTORY_COLUMNS)}
TIME, STEP = COLUMN["time"], COLUMN["global_step"]
SIGNIFICANT = 5  # digits kept of a figure: a plot cannot show more, the wire pays for each
TIME_DIGITS = 3  # a row's time to the ms: a tiny trainer writes an update every few ms
MAX_MARKS = 500  # newest kept; a crash-looping game adds a few per minute
MESSAGE_CHARS = 200
TRAINER_MARKS = ("start", "resume", "checkpoint_restored")  # from the trainer's start lines
EVAL_KIND = "evaluation"  # the kind of the agent's evaluation lines
EVAL = COLUMN["eval_mean"]

assert set(SOURCES) == set(HISTORY_COLUMNS)


def number(value: Any) -> Value:
    """The value if it is a number the wire can carry (finite; an int within 64 bits: a
    foreign trainer's 400-digit int is none), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value if INT_MIN <= value <= INT_MAX else None
    return value if math.isfinite(value) else None


def rounded(value: Any) -> Value:
    """A figure as the wire carries it: SIGNIFICANT digits, null if not a number."""
    value = number(value)
    return float(f"{value:.{SIGNIFICANT}g}") if isinstance(value, float) else value


def row_from_line(line: JSONObject) -> Row | None:
    """The row of an update line of metrics.jsonl or of an evaluation line of
    evaluations.jsonl (EVAL_KIND), or None for any other line."""
    if line.get("kind") not in ("update", EVAL_KIND):
        return None
    t = number(line.get("time"))
    if t is None:
        return None
    row = [rounded(line.get(SOURCES[name])) for name in HISTORY_COLUMNS]
    row[TIME] = round(float(t), TIME_DIGITS)
    step = row[STEP]
    row[STEP] = int(step) if step is not None else None
    return row


def evenly(rows: list[Row], n: int) -> list[Row]:
    """At most n of the rows, spread evenly over their time span, first and last kept."""
    if len(rows) <= n:
        return rows
    times = [_time(r) for r in rows]
    start, span = times[0], times[-1] - times[0]
    picked: list[int] = []
    for k in range(n):
        i = bisect.bisect_left(times, start + span * k / (n - 1))
        i = min(i, len(rows) - 1)
        if not picked or i > picked[-1]:
            picked.append(i)
    return [rows[i] for i in picked]


class History:
    """One run's rows and marks."""

    def __init__(self, capacity: int = HISTORY_POINTS) -> None:
        if capacity < 4:
            raise ValueError("a history holds at least 4 rows")
        self.capacity = capacity
        self.rows: list[Row] = []
        self.marks: list[Mark] = []
        self.settings: JSONObject = {}  # the newest trainer start line's settings
        self.version = 0  # moves on every change: a reader recomputes what it derived
        self.last_eval: float | None = None  # the newest evaluation row's mean score

    @property
    def newest_time(self) -> float:
        """The newest row's time, or -inf."""
        return _time(self.rows[-1]) if self.rows else -math.inf

    def add_line(self, line: JSONObject) -> None:
        """Take one parsed metrics line: an update is a row, a start line a mark."""
        row = row_from_line(line)
        if row is not None:
            self.add_row(row)
        elif line.get("kind") == "start":
            self._trainer_started(line)

    def add_row(self, row: Row) -> None:
        """Append a row newer than the newest one (an older or equal one is dropped)."""
        t = row[TIME]
        if t is None or t <= self.newest_time:
            return
        self.rows.append(row)
        self.version += 1
        if (score := row[EVAL]) is not None:
            self.last_eval = float(score)
        if len(self.rows) > self.capacity:
            self._thin()

    def _thin(self) -> None:
        keep = self.capacity // 2
        self.rows = evenly(self.rows[:-keep], max(2, self.capacity // 4)) + self.rows[-keep:]

    def _trainer_started(self, line: JSONObject) -> None:
        t = number(line.get("time"))
        if t is None:
            return
        if any(m.time == round(t, TIME_DIGITS) and m.kind in TRAINER_MARKS for m in self.marks):
            return  # read before (a tail starting over)
        settings = line.get("settings")
        if isinstance(settings, dict):
            self.settings = settings
        step = rounded(line.get("global_step"))
        kind, message = _start_kind(line, step, self.step_at(float(t)))
        self.add_mark(float(t), kind, message, int(step) if step is not None else None)

    def step_at(self, t: float) -> int | None:
        """The global step of the newest row at or before time t."""
        i = bisect.bisect_right(self.rows, t, key=_time)
        return None if i == 0 else _int_or_none(self.rows[i - 1][STEP])

    def add_mark(self, t: float, kind: str, message: str, step: int | None = None) -> None:
        """Record a mark at time t (its step: the newest row's at t, unless given)."""
        if kind not in MARK_KINDS:
            raise ValueError(f"unknown mark kind {kind!r}")
        t = round(t, TIME_DIGITS)
        if any(m.time == t and m.kind == kind for m in self.marks):
            return
        mark = Mark(
            time=t,
            global_step=self.step_at(t) if step is None else step,
            kind=kind,
            message=" ".join(message.split())[:MESSAGE_CHARS],
        )
        bisect.insort(self.marks, mark, key=lambda m: m.time)
        del self.marks[:-MAX_MARKS]
        self.version += 1

    def since(self, after: float | None) -> tuple[list[Row], list[Mark]]:
        """Rows and marks newer than `after` (all of them for None)."""
        if after is None:
            return list(self.rows), list(self.marks)
        i = bisect.bisect_right(self.rows, after, key=_time)
        j = bisect.bisect_right(self.marks, after, key=lambda m: m.time)
        return self.rows[i:], self.marks[j:]

    def result(
        self, game: str, run: str, after: float | None, diagnosis: list[Diagnosis]
    ) -> LearningCurve:
        """The `history` op's result (protocol.py gives the shape)."""
        rows, marks = self.since(after)
        cursor = self.rows[-1][TIME] if self.rows else None
        return LearningCurve(
            game=game,
            run=run,
            columns=list(HISTORY_COLUMNS),
            rows=rows,
            marks=marks,
            cursor=None if cursor is None else float(cursor),
            diagnosis=diagnosis,
        )


# The agent's events that mark a run (protocol.EVENT_KINDS -> MARK_KINDS). A hang is
# followed by the crash event that restarts it; a reboot marks every game.
EVENT_MARKS: dict[str, str] = {
    "restart": "restart",
    "crash": "crash",
    "crash_loop": "crash",
    "reboot": "reboot",
    "migrated": "migration",
    "rolled_back": "rollback",
    "trial_started": "trial_start",
    "trial_finished": "trial_end",
    "tune_started": "tune",
    "tune_finished": "tune",
}


def mark_event(history: History, event: Event) -> None:
    """Mark an agent event on a game's history, if it is one that marks a run."""
    kind = EVENT_MARKS.get(event.kind)
    t = number(event.ts)
    if kind is None or t is None:
        return
    history.add_mark(float(t), kind, event.message or kind)


def _start_kind(line: JSONObject, step: Value, before: int | None) -> tuple[str, str]:
    """A trainer start line's mark: a fresh start, a resume, or a resume from a checkpoint
    older than where the curve had got to (the steps in between are trained again)."""
    pid = line.get("pid")
    who = f"trainer (pid {pid})" if isinstance(pid, int) else "trainer"
    if not line.get("resumed_from"):
        return "start", f"{who} started fresh"
    if step is not None and before is not None and step < before:
        return (
            "checkpoint_restored",
            f"{who} resumed from a checkpoint at step {step:,}: "
            f"{before - step:,} steps since it are trained again",
        )
    return "resume", f"{who} resumed from its checkpoint at step {step or 0:,}"


def _time(row: Row) -> float:
    t = row[TIME]
    return -math.inf if t is None else float(t)


def _int_or_none(value: Value) -> int | None:
    return None if value is None else int(value)
