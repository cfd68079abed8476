"""The TUI's `-` only sends (issue 19.1): halving a game of 1 env asks the agent for 0,
the agent refuses it naming the range, the TUI shows that refusal, and the game is
left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from controlroom.config import loads
from controlroom.link.local import open_local
from controlroom.tui.app import build_app
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from tests.agent.harness import SLEEPER, AgentHarness
from tests.agent.harness import wait_for as wait_sync
from tests.link.realagent import wait_for


@pytest.fixture
def one_env(tmp_path: Path) -> Iterator[AgentHarness]:
    """A real agent running Pong at 1 env (stand-in trainer)."""
    h = AgentHarness(tmp_path)
    try:
        h.write_config(trainer={"command": SLEEPER, "num_envs": 1}, agent={"stop_grace_s": 1.0})
        h.start()
        h.call("add_game", game="Pong")
        wait_sync(lambda: h.game("Pong").get("pid"), 30, "Pong's trainer")
        yield h
    finally:
        h.close()


async def test_minus_at_one_env_shows_the_agents_refusal(one_env: AgentHarness) -> None:
    target = HostTarget("box", partial(open_local, str(one_env.state_dir / "agent.sock")))
    app = build_app([target], config=loads(""))
    before = one_env.game("Pong")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: bool(app.query(GamePane)), what="the pane")
        await pilot.pause()
        await pilot.press("minus")
        await wait_for(
            lambda: any("num_envs" in n.message for n in app._notifications),
            what="the refusal shown",
        )
        shown = [n for n in app._notifications if "num_envs" in n.message]
    assert shown[0].severity == "error"
    assert "num_envs: must be >= 1, not 0 (range [1, 4096])" in shown[0].message
    after = one_env.game("Pong")
    assert (after["settings"], after["pid"]) == (before["settings"], before["pid"])
