"""The tune through the TUI and a real agent (issue 20.4): `u` on a game asks how long
(the laptop's [tune] minutes first), the agent tunes a stand-in trainer whose steps/s
peak is known (tests/policy/tune_fake.py: 1000, 2000, 2100 at 8, 16, 32 envs; the
ladder would go on to 64), the tune
screen follows the ladder from the pushed State to its verdict, and `a` applies the
chosen 16 envs as a migration."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from controlroom.config import loads
from controlroom.link.local import open_local
from controlroom.tui.app import build_app
from controlroom.tui.screens.modals import PickScreen
from controlroom.tui.screens.tune import TuneScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.tune_plot import TunePlot
from tests.agent.harness import AgentHarness
from tests.agent.harness import wait_for as wait_sync
from tests.link.realagent import wait_for
from tests.policy.test_tune_live import write


@pytest.fixture
def peak(tmp_path: Path) -> Iterator[AgentHarness]:
    """A real agent running Pong on the stand-in trainer with the known peak."""
    h = AgentHarness(tmp_path)
    try:
        write(h, {"Pong": "peak"})
        h.start()
        h.call("add_game", game="Pong")
        wait_sync(lambda: h.game("Pong").get("state") == "running", 30, "Pong running")
        yield h
    finally:
        h.close()


async def test_u_tunes_the_game_and_a_applies_the_chosen_shape(peak: AgentHarness) -> None:
    target = HostTarget("box", partial(open_local, str(peak.state_dir / "agent.sock")))
    app = build_app([target], config=loads("[tune]\nminutes = 0.3\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: bool(app.query(GamePane)), what="the pane")
        await pilot.pause()
        await pilot.press("u")
        await wait_for(lambda: isinstance(app.screen, PickScreen), what="the minutes modal")
        assert app.screen.choices[0] == ("0.3", "0.3 minutes (default)")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, TuneScreen), what="the tune screen")
        screen = app.screen
        assert isinstance(screen, TuneScreen)
        await wait_for(
            lambda: screen.shown is not None and screen.shown.status == "finished",
            timeout=180,
            what="the tune's verdict on the screen",
        )
        t = screen.shown
        assert t is not None and t.chosen is not None
        # 64 envs (the guard's max_total_envs) is never run: the climb stopped at 32.
        assert [r.verdict for r in t.rungs] == ["ok", "ok", "diminishing", "pending"]
        assert t.chosen.num_envs == 16
        plot = screen.query_one("#plot-tune-sps", TunePlot)
        assert [round(2**x) for x in plot.traces[0].xs] == [8, 16, 32]
        await pilot.press("a")
        await wait_for(
            lambda: any("tuned shape applied" in n.message for n in app._notifications),
            what="the apply's answer",
        )
    wait_sync(lambda: peak.game("Pong")["settings"]["num_envs"] == 16, 30, "Pong at 16 envs")
