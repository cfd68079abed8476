"""GPUs in the TUI (issue 14.1, 14.4), against a real agent on a recorded 8-GPU host
(local socket, no SSH needed for this): each game pane's title names its GPUs, the
gauges show all 8 GPUs within the pane, and the `g` key moves the selected game to the
GPU picked (a migrate: the agent's game lands there, pinned)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from textual.widgets import OptionList

from controlroom.config import loads
from controlroom.link.local import open_local
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.screens.modals import PickScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.gauges import GPU_ROWS, INNER_W, Gauges, render_gauges
from controlroom.tui.widgets.host_view import HostView
from tests.agent.harness import AgentHarness
from tests.agent.harness import wait_for as wait_sync
from tests.agent.test_placement_agent import MIXED, start, started
from tests.link.realagent import wait_for

SIZE = (120, 40)


@pytest.fixture
def gpu_agent(tmp_path: Path) -> Iterator[AgentHarness]:
    """A real agent on a recorded 8-GPU host running Pong (GPU 3) and Breakout (GPU 6)
    as stand-in trainers."""
    h = AgentHarness(tmp_path)
    try:
        start(h, MIXED)
        h.call("add_game", game="Pong")
        h.call("add_game", game="Breakout")
        started(h, "Pong")
        started(h, "Breakout")
        yield h
    finally:
        h.close()


def app_on(h: AgentHarness) -> ControlRoomApp:
    target = HostTarget("gpubox", partial(open_local, str(h.state_dir / "agent.sock")))
    return build_app([target], config=loads(""))


def pane(app: ControlRoomApp, game: str) -> GamePane:
    return next(p for p in app.query(GamePane) if p.game == game)


def gauge_lines(app: ControlRoomApp) -> list[str]:
    state = app.query_one(HostView).state
    assert state is not None
    return render_gauges(state).plain.splitlines()


async def test_panes_gauges_and_the_gpu_key(gpu_agent: AgentHarness) -> None:
    app = app_on(gpu_agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await wait_for(lambda: len(list(app.query(GamePane))) == 2, what="two panes")
        await wait_for(lambda: bool(app.query_one(Gauges).border_title), what="gauges")
        assert str(pane(app, "Pong").border_title) == "Pong · GPU 3"
        assert str(pane(app, "Breakout").border_title) == "Breakout · GPU 6"
        gauges = app.query_one(Gauges)
        assert str(gauges.border_title) == "8 GPUs · NVIDIA H100 80GB HBM3"
        lines = gauge_lines(app)
        assert all(len(line.rstrip()) <= INNER_W for line in lines), lines
        assert len(lines) == GPU_ROWS + 3  # 8 GPUs two to a line, util, cpu, ram
        shown = " ".join(lines)
        for index, used in enumerate(MIXED):
            assert f"{index} " in shown and f"{used:.0f}/80G" in shown, (index, lines)
        # g on the selected game (Breakout: first in name order) picks GPU 5.
        assert view.selected_game() == "Breakout"
        await pilot.press("g")
        await wait_for(
            lambda: isinstance(app.screen, PickScreen) and app.screen.is_mounted, what="picker"
        )
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0].startswith("● 1 GPU · placed") and labels[1].startswith("  2 GPUs")
        assert labels[8 + 5].startswith("  GPU 5 only · 12.0G/80.0G")
        options.highlighted = 8 + 5
        await pilot.press("enter")
        moved = wait_sync(
            lambda: (g := gpu_agent.game("Breakout")).get("gpus") == [5] and g, 30, "moved"
        )
        assert moved["settings"]["gpus"] == [5]
        await wait_for(
            lambda: str(pane(app, "Breakout").border_title) == "Breakout · GPU 5 pinned",
            what="the pane's new GPU",
        )
