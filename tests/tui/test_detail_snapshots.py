"""SVG snapshots of the detail screen at 120x40 on each recorded history, and of a
compare overlay, with time frozen (marks are written in UTC)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from controlroom.tui.recorded_history import flat_run, learning_cartpole, with_restart_and_reboot
from tests.tui.detail_support import (
    SIZE,
    RecordedAgent,
    candidate,
    open_detail,
    recorded_app,
    state_with_cartpole,
    synthetic,
    with_trial,
)

os.environ["TZ"] = "UTC"
time.tzset()


def opened(reply: dict[str, Any], *keys: str) -> Callable[[Pilot[Any]], Any]:
    """A run_before that opens the screen of `reply`'s game, then presses `keys` (`o`:
    Pong's flat run overlaid)."""
    game = reply["game"]
    agent = RecordedAgent({(game, "main"): reply, ("Pong", "main"): flat_run()})

    async def run_before(pilot: Pilot[Any]) -> None:
        state = state_with_cartpole({game: reply["diagnosis"]})
        screen = await open_detail(pilot, agent, state, game=game)
        await pilot.press(*keys)
        await pilot.pause()
        if "o" in keys:
            screen.toggle_overlay("Pong")
            await pilot.pause(0.2)

    return run_before


def test_detail_learning_cartpole(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=opened(learning_cartpole()))


def test_detail_flat_run(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=opened(flat_run()))


def test_detail_restart_and_reboot(snap_compare: Any) -> None:
    run_before = opened(with_restart_and_reboot())
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=run_before)


def test_detail_overlay(snap_compare: Any) -> None:
    run_before = opened(learning_cartpole(), "s", "o", "escape")
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=run_before)


def test_detail_beside_trial(snap_compare: Any) -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic(), ("CartPole", "trial"): candidate()})

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_detail(pilot, agent, with_trial("beside"))
        await pilot.press("v")
        for _ in range(100):
            if len(screen.query_one("#plot-return_mean").traces[-1].xs) > 1:  # type: ignore[attr-defined]
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=run_before)
