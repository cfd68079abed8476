"""Another process holding the store's lock never stalls the agent's event loop, and
what the agent wrote meanwhile lands once the lock clears."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from tests.agent.harness import SLEEPER, AgentHarness, wait_for

HOLD_S = 2.0


def _row(agent: AgentHarness, sql: str) -> tuple[Any, ...] | None:
    with contextlib.closing(sqlite3.connect(agent.state_dir / "agent.db")) as db:
        found = db.execute(sql).fetchone()
    return tuple(found) if found else None


def test_a_locked_store_never_stalls_replies_and_the_writes_land(agent: AgentHarness) -> None:
    agent.write_config(trainer={"command": SLEEPER})  # heartbeat every 0.5 s: a write
    agent.start()
    locker = sqlite3.connect(agent.state_dir / "agent.db", isolation_level=None, timeout=10)
    slowest = 0.0
    with agent.client() as c:
        c.call("status")
        locker.execute("BEGIN IMMEDIATE")  # the write lock, as a CLI or a reader might hold
        try:
            held_at = time.monotonic()
            added = c.call("add_game", game="Pong")  # a write of its own, meanwhile
            assert added["game"]["wanted"] is True
            while time.monotonic() - held_at < HOLD_S:
                asked = time.monotonic()
                c.call("status")
                slowest = max(slowest, time.monotonic() - asked)
                time.sleep(0.05)
            assert _row(agent, "SELECT name FROM games") is None  # nothing written yet
        finally:
            locker.execute("ROLLBACK")
            released = time.time()
            locker.close()
    # The old 5 s busy timeout blocked the loop for the whole hold on each heartbeat.
    assert slowest < 0.5, f"a status took {slowest:.2f}s while the store was locked"
    wait_for(
        lambda: _row(agent, "SELECT name, wanted FROM games") == ("Pong", 1),
        10,
        "the game written once the lock cleared",
    )
    wait_for(
        lambda: (
            (beat := _row(agent, "SELECT MAX(last_heartbeat) FROM boots")) and beat[0] > released
        ),
        10,
        "a heartbeat after the lock",
    )
    said = wait_for(
        lambda: [e for e in agent.call("events")["events"] if "locked" in e["message"]],
        10,
        "the lock recorded once it cleared",
    )
    assert said[-1]["data"]["failed_writes"] >= 1
    wait_for(lambda: agent.game("Pong").get("state") == "running", 10, "Pong running")
