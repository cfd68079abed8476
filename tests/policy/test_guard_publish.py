"""The guard line moves while a policy op holds the engine's lock (issue 11 §6).

A migrate waits out a trainer's stop grace under the engine's lock; the policy tick
used to skip its whole pass then, publishing nothing, so the TUI's guard line lagged
behind a game added meanwhile by as long as the op took (minutes, with a long grace).
"""

from __future__ import annotations

import signal
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


def ignores_sigterm(pid: int) -> bool:
    """Whether the process has set SIGTERM to ignored (its SigIgn mask, bit 15)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) >> (signal.SIGTERM - 1) & 1)


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
    pid = wait_for(lambda: agent.game("Pong").get("pid"), 60, "Pong's trainer")
    wait_for(lambda: ignores_sigterm(pid), 60, "the stand-in ignoring SIGTERM")
    migrating = threading.Thread(
        target=agent.call, args=("migrate",), kwargs={"game": "Pong", "settings": {"seed": 2}}
    )
    with agent.client() as watcher:
        migrating.start()
        # The migrate now waits out Pong's grace under the engine's lock.
        wait_for(lambda: agent.game("Pong").get("state") == "stopping", GRACE_S, "the stop")
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
