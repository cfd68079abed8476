"""`l`: the selected game's trainer output, followed while the screen is open, against the
real agent through sshd: lines the trainer writes later appear without reopening, the
view follows the end, and a reader who scrolled up is left where they are."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import RichLog

from controlroom.tui.screens.modals import LogScreen, metrics_lines, new_lines
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.host_view import HostView
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, games, make_app


def shown(log: RichLog) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in log.lines]


async def test_log_key_follows_the_trainer_output(sshd: SshServer, agent: RealAgent) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await view.request("add_game", game="CartPole")
        try:
            await view.request("stop_game", game="CartPole")
            await wait_for(lambda: "CartPole" in games(app), what="CartPole pane")
            await pilot.pause()
            view.query_one(GameGrid).select("CartPole")
            log_file = Path(agent.state_dir) / "runs" / "CartPole" / "trainer.log"
            with log_file.open("a") as f:
                f.write("before the screen opened\n")
            await pilot.press("l")
            await wait_for(
                lambda: isinstance(app.screen, LogScreen) and app.screen.fetches > 0,
                what="log screen",
            )
            screen = app.screen
            assert isinstance(screen, LogScreen)
            log = screen.query_one("#text", RichLog)
            await wait_for(lambda: "before the screen opened" in shown(log), what="first tail")
            with log_file.open("a") as f:
                f.writelines(f"later line {i}\n" for i in range(60))
            await wait_for(lambda: "later line 59" in shown(log), timeout=10, what="followed")
            await pilot.pause()
            assert log.is_vertical_scroll_end  # following the end
            assert shown(log).count("later line 0") == 1  # nothing shown twice
            log.scroll_home(animate=False)
            await pilot.pause()
            with log_file.open("a") as f:
                f.write("while scrolled up\n")
            await wait_for(lambda: "while scrolled up" in shown(log), timeout=10, what="appended")
            await pilot.pause()
            assert log.scroll_y == 0  # the reader stays where they scrolled
            await pilot.press("escape")
        finally:
            await view.request("remove_game", game="CartPole")


def test_new_lines_of_a_sliding_tail() -> None:
    assert new_lines([], ["a", "b"]) == ["a", "b"]
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert new_lines(["x", "x"], ["x", "x", "x"]) == ["x"]
    assert new_lines(["a", "b"], ["a", "b"]) == []
    assert new_lines(["a"], ["z"]) == ["z"]  # rotated away: all of it is new


def test_metrics_lines_are_short_and_readable() -> None:
    reply = {
        "lines": [],
        "metrics": [
            '{"time": 0, "kind": "update", "global_step": 512, "charts/SPS": 811.25, '
            '"charts/episodic_return": -20.5}',
            "not json",
        ],
    }
    first, second = metrics_lines(reply)
    assert "metrics update" in first and "SPS=811.2" in first and "episodic_return=-20.5" in first
    assert "global_step=512" in first and second == "metrics not json"
    assert metrics_lines({"lines": ["x"]}) == []
