"""The tune screen (`u` on a game, Esc back): the ladder a tune climbs for one game.

Its status, the rungs table (envs, minibatch, threads, steps/s, eps/h, memory, verdict),
two plots against envs (steps/s, then eps/h, memory on a second axis in both), the
chosen shape with the plan's days and cost to target before and after, and one key to
apply it (op `tune_apply`: the migration with its snapshot). What it shows is the
game's TuneState in the host's State (policy.tunes), which the agent pushes as the tune
goes: the screen redraws from it every second and asks the agent nothing until a key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from controlroom import protocol
from controlroom.link.errors import LinkError
from controlroom.tui import tune_view
from controlroom.tui.format import about
from controlroom.tui.widgets.quiet import QuietStatic
from controlroom.tui.widgets.tune_plot import TunePlot

Request = Callable[..., Awaitable[Any]]
REDRAW_S = 1.0


class TuneScreen(ModalScreen[None]):
    """One game's tune: its ladder, plots, outcome and the key that applies it."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="tune_close", tooltip="Back to the games"),
        Binding("a", "apply", "Apply", id="tune_apply", tooltip="Apply the chosen shape"),
    ]
    DEFAULT_CSS = """
    TuneScreen { background: $background; }
    TuneScreen #tune { width: 1fr; height: 1fr; }
    TuneScreen #tune-status { height: 1; }
    TuneScreen #tune-rungs { height: auto; max-height: 12; }
    TuneScreen #tune-outcome { height: auto; margin-bottom: 1; }
    TuneScreen #tune-plots { height: 1fr; }
    """

    def __init__(
        self,
        game: str,
        host: str,
        request: Request,
        state: Callable[[], protocol.State | None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args: game: whose tune; host: its host's name; request: sends an op to the
        agent (HostView.request); state: the host's newest State; clock: the agent's
        time (for the time spent)."""
        super().__init__()
        self.game, self.host, self.request, self.state, self.clock = (
            game,
            host,
            request,
            state,
            clock,
        )
        self.shown: protocol.TuneState | None = None
        """The TuneState drawn now (the tests read it)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="tune"):
            yield QuietStatic(id="tune-status", markup=False)
            yield Static(id="tune-rungs")
            yield Static(id="tune-outcome")
            with Horizontal(id="tune-plots"):
                yield TunePlot("tune-sps", "steps/s against envs")
                yield TunePlot("tune-eps", "eps/h against envs")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(REDRAW_S, self.redraw)

    def tune(self) -> protocol.TuneState | None:
        """The game's running or last tune in the host's newest State."""
        state = self.state()
        return None if state is None else state.policy.tunes.get(self.game)

    def redraw(self) -> None:
        """Draw the newest TuneState (nothing when it is the one drawn)."""
        t = self.tune()
        if t is None:
            status = f"{self.game}: no tune yet on {self.host} (it starts in a moment)"
            self.query_one("#tune-status", QuietStatic).update(status)
            return
        if t == self.shown:
            return
        self.shown = t
        self.query_one("#tune-status", QuietStatic).update(tune_view.status_line(t, self.clock()))
        self.query_one("#tune-rungs", Static).update(tune_view.rungs_table(t))
        key = self.app.get_key_display(self.BINDINGS[1])  # type: ignore[arg-type]
        self.query_one("#tune-outcome", Static).update(tune_view.outcome_lines(t, key))
        self.query_one("#plot-tune-sps", TunePlot).show_tune(*tune_view.rate_traces(t))
        self.query_one("#plot-tune-eps", TunePlot).show_tune(*tune_view.eps_traces(t))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_apply(self) -> None:
        t = self.tune()
        if t is None or t.chosen is None or t.status != "finished":
            self.notify(f"{self.game}: no finished tune with a chosen shape", severity="warning")
            return
        if t.applied:
            self.notify(f"{self.game}: already applied", severity="warning")
            return
        self.apply()

    @work(group="tune", exclusive=True, exit_on_error=False, description="apply a tune")
    async def apply(self) -> None:
        """Send tune_apply; say what came of it."""
        try:
            reply = protocol.as_result(
                await self.request("tune_apply", game=self.game), protocol.TuneApplied
            )
        except (LinkError, protocol.ProtocolError) as exc:
            self.notify(about(self.host, exc.message), severity="error", timeout=8)
            return
        c = reply.tune.chosen
        shape = f"{c.num_envs} envs, minibatch {c.minibatch_size}" if c else "its chosen shape"
        self.notify(about(self.host, f"{self.game}: tuned shape applied ({shape})"))
