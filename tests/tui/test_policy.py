"""The policy panel: what it says for each ramp phase, trial and guard load, and its -warn."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.policy import PolicyPanel, render_policy
from tests.tui.test_snapshots import SIZE, app_for


def policy(**changes: Any) -> dict[str, Any]:
    p: dict[str, Any] = copy.deepcopy(recorded_state()["policy"])
    for key, value in changes.items():
        p[key] = value
    return p


def lines(p: dict[str, Any]) -> list[str]:
    return render_policy(msgspec.convert(p, protocol.PolicyState), NOW)[0].plain.split("\n")


def test_recorded_policy_reads_as_status_does() -> None:
    ramp, guard, rest = lines(policy())
    assert "step 1/3 (MsPacman, Pong)" in ramp and "ceiling step 2 (3 games)" in ramp
    assert ramp.endswith("next: add Asteroids in 12m")
    assert guard == "guard envs 320/1,024 · trainers 3/8 · GPU mem 9%/50% · 48°C/83°C · RAM 34%/90%"
    assert rest.startswith("queue Asteroids → Freeway → Seaquest")
    assert "beside trial Breakout: keep or discard? eps/h 782→915 · steps/s 18.4k→21.6k" in rest


def test_ramp_off_at_ceiling_and_a_running_trial() -> None:
    assert lines(policy(ramp={"enabled": False}))[0] == "ramp off"
    ceiling = {
        "enabled": True,
        "phase": "at_ceiling",
        "step": 2,
        "steps": 4,
        "games": ["A", "B", "C"],
        "ceiling": 2,
        "ceiling_games": 3,
    }
    assert lines(policy(ramp=ceiling))[0].startswith("ramp holding at ceiling · step 2/3")
    running = {"game": "Pong", "mode": "beside", "status": "running", "ends_at": NOW + 7 * 60}
    rest = lines(policy(trials={"Pong": running}, queue={"waiting": [], "free_slots": 1}))[2]
    assert rest == "queue empty (1 free slot) │ beside trial Pong: running, 7m left"
    assert lines({})[0] == "no policy engine in this agent"


async def test_a_budget_near_its_limit_warns() -> None:
    state = recorded_state()
    state["policy"]["guard"]["load"]["trainers"] = 8
    app = app_for("tnr-0")
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.load_state(recorded_state())
        await pilot.pause()
        panel = app.query_one(PolicyPanel)
        assert not panel.has_class("-warn")
        assert panel.region.bottom < app.query_one("#games-scroll").region.bottom
        view.load_state(state)
        await pilot.pause()
        assert panel.has_class("-warn") and "trainers 8/8" in str(panel.render())
