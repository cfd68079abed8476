"""Enter on a running game's pane against the real agent through the real sshd: the
detail screen fills from the agent's `history` (its start marked), then keeps up with
the rows the trainer writes after the cursor, and shows its output."""

from __future__ import annotations

from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.plots import MetricPlot
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, games, make_app


async def test_enter_opens_a_running_games_curves(sshd: SshServer, agent: RealAgent) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await view.request("add_game", game="CartPole")
        try:
            await wait_for(
                lambda: bool(
                    (games(app).get("CartPole", {}).get("metrics") or {}).get("global_step")
                ),
                timeout=90,
                what="CartPole's first metrics",
            )
            await pilot.pause()
            view.query_one(GameGrid).select("CartPole")
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DetailScreen) and screen.game == "CartPole"
            screen.interval = 0.5
            await wait_for(lambda: len(screen.main.rows) >= 1, timeout=30, what="history rows")
            first_cursor, first_rows = screen.main.cursor, len(screen.main.rows)
            assert first_cursor is not None
            assert any(m.kind == "start" for m in screen.main.marks)
            await wait_for(
                lambda: len(screen.main.rows) > first_rows, timeout=60, what="newer rows"
            )
            times = [r[0] or 0.0 for r in screen.main.rows]
            assert times == sorted(set(times))  # appended after the cursor, none twice
            await pilot.pause()
            (mean,) = [
                t
                for t in screen.query_one("#plot-return_mean", MetricPlot).traces
                if t.label == "CartPole"
            ]
            assert mean.xs == sorted(mean.xs) and mean.xs
            await wait_for(lambda: bool(screen.log_shown), timeout=20, what="trainer output")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
        finally:
            await view.request("remove_game", game="CartPole")
