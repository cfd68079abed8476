"""The detail screen (Enter on a game pane, Esc back): is this game learning?

Its learning curves over global step (or wall time), the PPO diagnostics, the run's
marks (restarts, reboots, migrations...) on every x axis, what the agent's diagnosis
says, the trainer's output following below; other games overlaid, or a trial's two
sides from its start with its verdict beside them.

Data path: one full `history` request on opening, then every `interval` seconds one
with `after` = the cursor, which brings only the rows since (a few hundred bytes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, RichLog

from controlroom import protocol
from controlroom.link.errors import LinkError, RequestFailed
from controlroom.tui import detail_lines as lines
from controlroom.tui.history import STEP, WALL, RunHistory
from controlroom.tui.learning import (
    PAGES,
    SMOOTHING,
    View,
    marks,
    traces,
    x_label,
)
from controlroom.tui.screens.modals import PickScreen, log_lines, new_lines
from controlroom.tui.screens.watch import WatchScreen
from controlroom.tui.widgets.plots import MetricPlot
from controlroom.tui.widgets.quiet import QuietStatic

Request = Callable[..., Awaitable[Any]]
FOLLOW_S = 2.0
"""Seconds between the screen's requests for what is new (the issue: ~2 s, 2 Hz at most)."""
DRAW_EVERY_S = 1.0
"""New rows redraw the plots at most this often: asked at 2 Hz, a 2,000-point curve
does not need repainting at 2 Hz (the plots are most of the screen's CPU)."""
LOG_TAIL = 40
PAGE_KEY = "detail_page"
PAGE_LABELS = {"learning": "Learning", "ppo": "PPO"}
"""The page key's footer label: the page a press shows (the other one)."""
"""Lines of trainer output asked for each time (the log screen's `l` asks for more)."""


class DetailScreen(ModalScreen[None]):
    """One game's learning curves, marks, diagnosis and trainer output, kept current."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="detail_close", tooltip="Back to the games"),
        Binding("w", "toggle_axis", "Step/Wall", id="detail_axis", tooltip="x: step or wall time"),
        Binding("s", "cycle_smoothing", "Smooth", id="detail_smoothing", tooltip="EMA 0/0.6/0.9"),
        Binding("y", "toggle_log_y", "Log y", id="detail_log_y", tooltip="y axis log or linear"),
        Binding(
            "p", "toggle_page", PAGE_LABELS["ppo"], id=PAGE_KEY, tooltip="Learning or PPO plots"
        ),
        Binding("o", "pick_overlay", "Overlay", id="detail_overlay", tooltip="Add/remove a game"),
        Binding("v", "toggle_trial", "Trial", id="detail_trial", tooltip="The trial's two sides"),
        Binding("f", "watch", "Watch", id="detail_watch", tooltip="Watch the policy play"),
    ]
    DEFAULT_CSS = """
    DetailScreen { background: $background; }
    DetailScreen #detail { width: 1fr; height: 1fr; }
    DetailScreen .detail-line { height: 1; width: 1fr; }
    DetailScreen #diagnosis.-wrong { color: $error; text-style: bold; }
    DetailScreen #pages { height: 1fr; }
    DetailScreen #learning { grid-size: 2 2; }
    DetailScreen #ppo { grid-size: 3 2; }
    DetailScreen #detail-log { height: 8; border-top: solid $primary-darken-2; overflow-x: hidden; }
    """

    def __init__(
        self,
        game: str,
        host: str,
        request: Request,
        state: Callable[[], protocol.State | None],
        *,
        interval: float = FOLLOW_S,
        clock: Callable[[], float] = time.time,
        overlays: list[str] | None = None,
    ) -> None:
        """Args: game: whose curves; host: its host's name; request: sends an op to the
        agent (HostView.request); state: the host's newest State; interval: seconds
        between requests for what is new; clock: the agent's time (for the trial's);
        overlays: the games overlaid at first (those marked on the main screen; `o`
        changes them here only)."""
        super().__init__()
        self.game, self.host, self.request, self.state = game, host, request, state
        self.interval, self.clock = interval, clock
        self.view = View(overlays=[g for g in overlays or [] if g != game])
        self.main = RunHistory(game)
        self.others: dict[str, RunHistory] = {}
        """Overlaid games by name, and the beside trial's run under "trial"."""
        self.page = "learning"
        self.log_shown: list[str] = []
        self.polls = 0
        """Completed rounds of requests (tests wait on it)."""
        self.error = ""
        self.changed = True
        """New rows came (or a key changed the view) since the plots were drawn."""
        self.drawn_at = 0.0
        """When the plots were last drawn with data (monotonic seconds)."""
        self.draw_every = DRAW_EVERY_S

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            for line in ("detail-title", "diagnosis", "compare", "marks"):
                yield QuietStatic(id=line, classes="detail-line", markup=False)
            with ContentSwitcher(initial="learning", id="pages"):
                for page, plots in PAGES.items():
                    with Grid(id=page):
                        for column, title in plots:
                            yield MetricPlot(column, title)
            yield RichLog(id="detail-log", wrap=False, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.run_worker(
            self.follow(),
            group="detail",
            exclusive=True,
            exit_on_error=False,
            description=f"follow {self.game}'s learning",
        )

    # --- data ----------------------------------------------------------------------------

    async def follow(self) -> None:
        """Ask for what is new, show it, wait; until the screen closes (the worker ends)."""
        while True:
            await self.poll()
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        """One round: the game's history, each overlay's, the trial's run, the log tail."""
        error = self.error
        try:
            for run in self.wanted_runs():
                self.changed |= await (
                    self.fetch(run) if run is self.main else self.fetch_other(run)
                )
            reply = await self.request("game_log", game=self.game, lines=LOG_TAIL)
        except LinkError as exc:
            self.error = f"{exc.message}; trying again"
        else:
            self.error = ""
            self.append_log(log_lines(reply))
        self.polls += 1
        due = time.monotonic() - self.drawn_at >= self.draw_every
        if (self.changed and due) or self.error != error:
            self.redraw()

    def wanted_runs(self) -> list[RunHistory]:
        runs = [self.main]
        if isinstance(self.view.trial, protocol.BesideTrial):
            runs.append(self.others.setdefault("trial", RunHistory(self.game, "trial")))
        elif self.view.trial is None:
            runs += [self.others.setdefault(g, RunHistory(g)) for g in self.view.overlays]
        return runs

    async def fetch_other(self, run: RunHistory) -> bool:
        """`fetch` for an overlay or the trial's run: a game the agent no longer has
        leaves the overlay (said once); a trial run it has none of stays empty."""
        try:
            return await self.fetch(run)
        except RequestFailed as exc:
            if exc.code not in ("unknown_game", "not_found"):
                raise
            gone = exc.message
        if run.run == "main" and run.game in self.view.overlays:
            self.view.overlays.remove(run.game)
            self.others.pop(run.game, None)
            self.notify(f"{run.game} left the overlay: {gone}", severity="warning")
            return True
        return False

    async def fetch(self, run: RunHistory) -> bool:
        """Ask for `run`'s rows after its cursor; True when anything shown changed (rows,
        marks, or the diagnosis)."""
        reply = await self.request("history", game=run.game, run=run.run, after=run.cursor)
        before = (len(run.marks), run.diagnosis)
        try:
            return run.merge(reply) > 0 or (len(run.marks), run.diagnosis) != before
        except ValueError as exc:
            raise LinkError("bad_reply", f"{run.game}'s history: {exc}") from None

    def append_log(self, lines: list[str]) -> None:
        fresh = new_lines(self.log_shown, lines)
        self.log_shown = lines
        log = self.query_one("#detail-log", RichLog)
        follow = log.is_vertical_scroll_end or log.max_scroll_y == 0
        for line in fresh:
            log.write(Text.from_ansi(line), scroll_end=follow)

    # --- drawing -------------------------------------------------------------------------

    def redraw(self) -> None:
        """Every line and the visible page's plots, from the kept histories."""
        self.changed = False
        if self.main.rows:  # an empty first frame does not hold the data back
            self.drawn_at = time.monotonic()
        if self.view.trial is not None:  # a running trial's record moves on (its end)
            self.view.trial = self.trial() or self.view.trial
        self.query_one("#detail-title", QuietStatic).show_text(self.title_line())
        diagnosis = self.query_one("#diagnosis", QuietStatic)
        diagnosis.show_text(self.diagnosis_line())
        if diagnosis.has_class("-wrong") != bool(self.diagnosis()):
            diagnosis.set_class(bool(self.diagnosis()), "-wrong")
        self.query_one("#compare", QuietStatic).show_text(self.compare_line())
        self.query_one("#marks", QuietStatic).show_text(self.marks_line())
        shown_marks = marks(self.main, self.others, self.view)
        axis = x_label(self.main, self.others, self.view)
        for plot in self.query_one(f"#{self.page}", Grid).query(MetricPlot):
            plot.show(
                traces(plot.column, self.main, self.others, self.view),
                shown_marks,
                log_y=self.view.log_y,
                x_label=axis,
            )

    def title_line(self) -> Text:
        v = self.view
        text = Text.assemble(
            (f"{self.game} on {self.host} ", "bold"),
            f"· x {x_label(self.main, self.others, v)} · smoothing {v.smoothing:g}",
            f" · y {'log' if v.log_y else 'linear'} · {len(self.main.rows)} points",
        )
        if self.error:
            text.append(f" · {self.error}", style="bold red")
        return text

    def diagnosis(self) -> list[dict[str, str]]:
        """The newest reasons: the history reply's, else the State's GameState.diagnosis."""
        if self.main.cursor is not None:
            return self.main.diagnosis
        game = self.games().get(self.game)
        return [{"message": d.message} for d in game.diagnosis] if game else []

    def diagnosis_line(self) -> Text:
        return lines.diagnosis_line([r["message"] for r in self.diagnosis()])

    def compare_line(self) -> Text:
        if self.view.trial is not None:
            return lines.verdict(self.view.trial, self.clock())
        return lines.overlay_line(self.view.overlays)

    def marks_line(self) -> Text:
        if self.view.trial is not None:
            return lines.trial_window(self.view.trial)
        return lines.marks_line(self.main.marks)

    # --- keys ----------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_axis(self) -> None:
        self.view.axis = WALL if self.view.axis == STEP else STEP
        self.redraw()

    def action_cycle_smoothing(self) -> None:
        i = SMOOTHING.index(self.view.smoothing) if self.view.smoothing in SMOOTHING else 0
        self.view.smoothing = SMOOTHING[(i + 1) % len(SMOOTHING)]
        self.redraw()

    def action_toggle_log_y(self) -> None:
        self.view.log_y = not self.view.log_y
        self.redraw()

    def action_toggle_page(self) -> None:
        other = "ppo" if self.page == "learning" else "learning"
        relabel(self._bindings, PAGE_KEY, PAGE_LABELS[self.page])  # back to this one
        self.page = other
        self.query_one("#pages", ContentSwitcher).current = self.page
        self.refresh_bindings()
        self.redraw()

    def action_pick_overlay(self) -> None:
        games = sorted(g for g in self.games() if g != self.game)
        if not games:
            self.notify("no other game on this host to overlay", severity="warning")
            return
        choices = [(g, f"{'remove' if g in self.view.overlays else 'add'} {g}") for g in games]
        self.app.push_screen(PickScreen(f"Overlay on {self.game}", choices), self.toggle_overlay)

    def toggle_overlay(self, game: str | None) -> None:
        """Add `game` to the overlays, or take it off when it is there."""
        if not game:
            return
        if game in self.view.overlays:
            self.view.overlays.remove(game)
        else:
            self.view.overlays.append(game)
        self.refresh_now()

    def action_toggle_trial(self) -> None:
        if self.view.trial is not None:
            self.view.trial = None
        else:
            trial = self.trial()
            if trial is None:
                self.notify(f"no trial of {self.game} on this host", severity="warning")
                return
            self.view.trial = trial
        self.refresh_now()

    def action_watch(self) -> None:
        self.app.push_screen(WatchScreen(self.game, self.request))

    def games(self) -> dict[str, protocol.GameState]:
        """The host's games in its newest State (none before the first)."""
        state = self.state()
        return state.games if state is not None else {}

    def trial(self) -> protocol.AnyTrial | None:
        """The game's trial record (running, or the last one), if the agent has one."""
        state = self.state()
        return state.policy.trials.get(self.game) if state is not None else None

    def refresh_now(self) -> None:
        """Redraw at once, and fetch what a new overlay or trial view needs."""
        self.redraw()
        self.run_worker(self.poll(), group="detail-now", exit_on_error=False)


def relabel(bindings: BindingsMap, binding_id: str, description: str) -> None:
    """Give the binding `binding_id` a new footer label, on whatever key it is (a keymap
    may have moved it): Textual's labels are fixed, a toggle's says what it will do."""
    for key, key_bindings in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [
            replace(b, description=description) if b.id == binding_id else b for b in key_bindings
        ]
