"""The guard line moves while a policy op holds the engine's lock (issue 11 §6).

A migrate waits out a trainer's stop grace under the engine's lock; the policy tick
used to skip its whole pass then, publishing nothing, so the TUI's guard line lagged
behind a game added meanwhile by as long as the op took (minutes, with a long grace).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentHarness, wait_for

# A stand-in trainer that ignores SIGTERM: stopping it takes the whole grace period.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
]
GRACE_S = 8.0


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentHarness]:
    harness = AgentHarness(tmp_path)
    harness.write_config(
        trainer={"command": STUBBORN}, agent={"telemetry_s": 0.5, "stop_grace_s": GRACE_S}
    )
    try:
        yield harness
    finally:
        harness.close()


def test_guard_load_is_published_while_an_op_holds_the_policy_lock(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="Pong")
    wait_for(lambda: agent.game("Pong").get("pid"), 30, "Pong's trainer")
    time.sleep(1.0)  # past the stand-in's start, so it ignores SIGTERM by now
    migrating = threading.Thread(
        target=agent.call, args=("migrate",), kwargs={"game": "Pong", "settings": {"seed": 2}}
    )
    with agent.client() as watcher:
        migrating.start()
        time.sleep(1.0)  # the migrate now waits out Pong's grace under the engine's lock
        assert migrating.is_alive()
        before = agent.call("status")["policy"]["guard"]["load"]["envs"]
        added = time.monotonic()
        agent.call("add_game", game="Breakout")
        seen = None
        for msg in watcher.messages():
            policy = msg.get("state", {}).get("policy") if msg.get("type") == "update" else None
            if policy and policy["guard"]["load"]["envs"] > before:
                seen = time.monotonic() - added
                break
            if time.monotonic() - added > GRACE_S:
                break
    migrating.join(GRACE_S + 30)
    assert seen is not None and seen < 3.0, f"guard line stale for {seen}s during the op"
