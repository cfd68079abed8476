"""`f` on the detail screen, against the real agent through the real sshd: the watch view
opens, an evaluator plays Pong from the game's checkpoint, and frames arrive and are
drawn; closing it stops the stream (its evaluator ends)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil

from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.screens.watch import WatchScreen
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.host_view import HostView
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, games, make_app


def evaluators(agent: RealAgent) -> list[psutil.Process]:
    runs = str(agent.state_dir / "runs")
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(p.info["cmdline"] or [])
        alive = p.info["status"] != psutil.STATUS_ZOMBIE
        if "controlroom.trainer.evaluate" in cmd and runs in cmd and alive:
            found.append(p)
    return found


async def test_f_watches_the_policy_play_over_the_link(
    sshd: SshServer, agent: RealAgent, untrained_pong: Path
) -> None:
    run_dir = agent.state_dir / "runs" / "Pong"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(untrained_pong, run_dir)  # a checkpoint to watch from the start
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await view.request("add_game", game="Pong")
        try:
            await wait_for(lambda: "Pong" in games(app), timeout=30, what="Pong's pane")
            await pilot.pause()
            view.query_one(GameGrid).select("Pong")
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            await pilot.press("f")
            watch = app.screen
            assert isinstance(watch, WatchScreen) and watch.game == "Pong"
            await wait_for(lambda: watch.frames_shown >= 5, timeout=90, what="five frames")
            assert watch.cursor >= 4 and watch.bytes_in > 0
            assert "KiB/s" in watch.status
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            await wait_for(lambda: not evaluators(agent), timeout=30, what="the evaluator to end")
        finally:
            await view.request("remove_game", game="Pong")
