"""Per-game locks (issue 12.4): one game's changes in turn, others alongside,
re-entrant within a task, and no lock kept for a name nobody holds."""

from __future__ import annotations

import asyncio

from controlroom.agent.gamelocks import GameLocks


async def test_same_game_waits_other_game_goes_on_and_reentry_passes() -> None:
    locks, order = GameLocks(), []

    async def hold(game: str, tag: str, secs: float) -> None:
        async with locks.hold(game), locks.hold(game):  # the same task again: no deadlock
            order.append(f"{tag}+")
            await asyncio.sleep(secs)
            order.append(f"{tag}-")

    first = asyncio.create_task(hold("Pong", "a", 0.1))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(
        asyncio.gather(first, hold("Pong", "b", 0.0), hold("Breakout", "c", 0.0)), 5
    )
    assert order.index("a-") < order.index("b+")  # b waited for a
    assert order.index("c-") < order.index("a-")  # c did not
    assert not locks.held("Pong") and locks._locks == {}  # nothing left behind
