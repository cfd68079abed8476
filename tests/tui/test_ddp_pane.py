"""A game of 2 GPUs in the TUI (issue 14.2): against a real agent running it as one
torchrun job of 2 ranks on this CPU, the game's pane shows the ranks beside its per-rank
envs and the job's steps/s (summed over the ranks by rank 0)."""

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
from tests.agent.harness import AgentHarness
from tests.agent.harness import wait_for as wait_sync
from tests.link.realagent import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def job_agent(tmp_path: Path) -> Iterator[AgentHarness]:
    """A real agent training CartPole as a job of 2 ranks (gloo on the CPU)."""
    h = AgentHarness(tmp_path)
    try:
        h.write_config()
        h.start()
        h.call("add_game", game="CartPole", settings={"gpus": 2})
        wait_sync(lambda: (h.game("CartPole").get("metrics") or {}).get("sps"), 120, "an update")
        yield h
    finally:
        h.close()


async def test_a_jobs_pane_shows_its_ranks_and_the_jobs_steps(job_agent: AgentHarness) -> None:
    target = HostTarget("cpubox", partial(open_local, str(job_agent.state_dir / "agent.sock")))
    app = build_app([target], config=loads(""))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: bool(app.query(GamePane)), what="the pane")
        pane = app.query_one("#game-CartPole", GamePane)
        await wait_for(lambda: "x 2 ranks" in str(pane.render()), what="the ranks")
        await pilot.pause()
        text = str(pane.render())
        assert "2 envs x 2 ranks · mb 16" in text, text  # FAST_TRAINER's envs, per rank
        assert "steps/s" in text and "- steps/s" not in text, text
