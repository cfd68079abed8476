"""The agent's learning histories: one per game, and the `history` op's answers.

A game's History is rebuilt from its trainer's files (history_files.py) and its stored
events the first time the agent sees the game (at agent start, or when it is added);
from then on the supervisor's metrics tail hands it every line it reads and the agent
every event it records. So it survives agent restarts (rebuilt) and trainer resumes
(the same files, appended). A beside trial's candidate is read from its own run dir on
request, cached until its files change. Each game's diagnosis is recomputed when its
history moved, and published in its GameState.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.learning import history_files
from controlroom.agent.learning.diagnosis import Finding, diagnose
from controlroom.agent.learning.history import EVENT_MARKS, MAX_MARKS, History, mark_event
from controlroom.agent.storage import paths
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision.gamerun import GameRun
from controlroom.config import DiagnosticsConfig

Signature = tuple[tuple[str, int, int], ...]
# Rebuilding a long run's history reads up to ~16 MB (about 2 s here): at agent start
# the games are rebuilt a few per supervise pass, not all in one that blocks the loop.
ATTACH_BUDGET_S = 0.3
log = logging.getLogger(__name__)


class Learning:
    """Every game's History and diagnosis."""

    def __init__(
        self, state_dir: Path, store: Store, limits: Callable[[], DiagnosticsConfig]
    ) -> None:
        self.state_dir, self.store, self.limits = state_dir, store, limits
        self.histories: dict[str, History] = {}
        self._attached: dict[str, GameRun] = {}  # whose tail feeds each history
        self._diagnosed: dict[str, tuple[int, DiagnosticsConfig, list[Finding]]] = {}
        self._trials: dict[str, tuple[Path, Signature, History]] = {}

    def sync(self, games: dict[str, GameRun]) -> list[str]:
        """Follow the games the supervisor has (attach new ones, as many as
        ATTACH_BUDGET_S allows; drop forgotten ones) and set each one's diagnosis; the
        names whose diagnosis changed."""
        for name in [n for n in self._attached if self._attached[n] is not games.get(n)]:
            self._attached.pop(name)
            self.histories.pop(name, None)
            self._diagnosed.pop(name, None)
        changed, deadline, rebuilt = [], time.monotonic() + ATTACH_BUDGET_S, 0
        for name, g in games.items():
            new = self._attached.get(name) is not g
            if new and rebuilt and time.monotonic() > deadline:
                continue  # rebuilt in a later pass: the loop must keep serving meanwhile
            rebuilt += new
            try:
                self.attach(g)
                found = self.diagnosis(name)
            except Exception:  # one game's history must not stop the others' or the flush
                log.exception("%s: learning history", name)
                continue
            last_eval = self.histories[name].last_eval
            if found != g.diagnosis or last_eval != g.last_eval:
                if found != g.diagnosis and not new:  # a rebuilt history's are not news
                    self._tell_new_findings(g, found)
                g.diagnosis, g.last_eval = found, last_eval
                changed.append(name)
        return changed

    def _tell_new_findings(self, g: GameRun, found: list[Finding]) -> None:
        """A `looks_wrong` event for findings the game did not have (alerts may send it)."""
        had = {f.code for f in g.diagnosis}
        fresh = [f for f in found if f.code not in had]
        if fresh:
            message = f"{g.name} looks wrong: " + "; ".join(f.message for f in fresh)
            self.store.add_event("looks_wrong", g.name, message, {"codes": [f.code for f in fresh]})

    def attach(self, g: GameRun) -> History:
        """The game's History, rebuilt and fed from its tail from now on."""
        if self._attached.get(g.name) is g:
            return self.histories[g.name]
        h = history_files.rebuild(g.run_dir)
        try:
            events = self.store.events_of(EVENT_MARKS, g.name, MAX_MARKS)
        except sqlite3.Error as exc:  # locked or failing: the curve without its old marks
            log.warning("%s: no marks from the event log (%s)", g.name, exc)
            events = []
        for event in events:
            if event.game is not None or event.ts >= g.added_at:
                mark_event(h, event)
        self.histories[g.name], self._attached[g.name] = h, g
        g.tail.on_line = _feeder(g.name, h)
        return h

    def add_evaluation(self, game: str, line: protocol.JSONObject) -> None:
        """An evaluation line (agent/evaluation/) onto the game's history, if it has one."""
        h = self.histories.get(game)
        if h is not None:
            h.add_line(line)

    def on_event(self, event: protocol.Event) -> None:
        """Mark an agent event on its game's history (a reboot on every game's)."""
        game = event.game
        if game is None:
            targets = list(self.histories.values())
        else:
            targets = [self.histories[game]] if game in self.histories else []
        for h in targets:
            mark_event(h, event)

    def diagnosis(self, game: str) -> list[Finding]:
        """What looks wrong in a game's curve (recomputed only when it moved)."""
        h, limits = self.histories[game], self.limits()
        cached = self._diagnosed.get(game)
        if cached is not None and cached[0] == h.version and cached[1] == limits:
            return cached[2]
        found = _diagnose(h, limits)
        self._diagnosed[game] = (h.version, limits, found)
        return found

    def reply(self, g: GameRun, run: str, after: float | None) -> protocol.LearningCurve:
        """The `history` op's result for a game of the supervisor's."""
        if run not in protocol.HISTORY_RUNS:
            raise OpError("invalid", f"run must be one of {', '.join(protocol.HISTORY_RUNS)}")
        if after is not None and not math.isfinite(after):
            raise OpError("invalid", "after must be a cursor from a previous reply (a time)")
        if run == "main":
            h = self.attach(g)
            return fit(h.result(g.name, run, after, self.diagnosis(g.name)))
        h = self._trial(g.name)
        return fit(h.result(g.name, run, after, _diagnose(h, self.limits())))

    def _trial(self, game: str) -> History:
        """The newest beside trial's candidate run of a game, read from its files."""
        root = paths.trials_dir(self.state_dir, game)
        dirs = sorted(root.iterdir()) if root.is_dir() else []
        dirs = [d for d in dirs if d.is_dir()]
        if not dirs:
            raise OpError("not_found", f"{game} has no beside trial to show (run: main)")
        run_dir, sig = dirs[-1], history_files.signature(dirs[-1])
        cached = self._trials.get(game)
        if cached is not None and cached[0] == run_dir and cached[1] == sig:
            return cached[2]
        h = history_files.rebuild(run_dir)
        self._trials[game] = (run_dir, sig, h)
        return h


def _feeder(game: str, h: History) -> Callable[[protocol.JSONObject], None]:
    """h.add_line for the metrics tail, which must go on whatever one line does."""

    def feed(line: protocol.JSONObject) -> None:
        try:
            h.add_line(line)
        except Exception:
            log.exception("%s: a metrics line the learning history could not take", game)

    return feed


def _diagnose(h: History, limits: DiagnosticsConfig) -> list[Finding]:
    clip = h.settings.get("clip_coef")
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not clip > 0:
        clip = None
    return diagnose(h.rows, limits, clip)


def fit(result: protocol.LearningCurve) -> protocol.LearningCurve:
    """The result cut to protocol.REPLY_BUDGET (oldest rows and marks first); by the
    history's bounds it fits already, this is the guarantee."""
    while len(protocol.encode(result)) > protocol.REPLY_BUDGET - 1024:
        rows, marks = result.rows, result.marks
        if not rows and not marks:
            break
        result.rows = rows[len(rows) // 4 or 1 :] if rows else rows
        result.marks = marks[len(marks) // 4 or 1 :] if marks else marks
    return result
