"""A real agent (tests/agent/harness.py) with a policy config: tiny trainers, short
windows, small budgets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import SLEEPER, AgentHarness, wait_for

TINY = "num_envs = 2\nnum_steps = 16\nminibatch_size = 16\n"

POLICY_CONFIG = f"""
[trainer]
{TINY}device = "cpu"
torch_threads = 1
checkpoint_interval_s = 1

[games.CartPole]
target_episodes = {{cartpole_target}}
[games.Pong]
target_episodes = 100000

[profiles.solo]
games = ["CartPole"]
{TINY}
[profiles.both]
games = ["CartPole", "Pong"]
num_envs = 64
num_steps = 16
minibatch_size = 16

[ramp]
enabled = {{ramp}}
stable_minutes = 0.05
games = ["CartPole", "Pong"]
start_games = 1
max_games = 2
{TINY}
[guard]
max_total_envs = 64
max_trainers = 4

[agent]
heartbeat_s = 0.5
telemetry_s = 0.5
stop_grace_s = 10.0
backoff_initial_s = 0.5
backoff_max_s = 2.0
snapshot_retention = 2
"""


@pytest.fixture
def policy_agent(tmp_path: Path) -> Iterator[AgentHarness]:
    """A harness with the policy config written (ramp off); call write_policy_config to
    change it before start()."""
    harness = AgentHarness(tmp_path)
    write_policy_config(harness)
    try:
        yield harness
    finally:
        harness.close()


def write_policy_config(
    h: AgentHarness, *, ramp: bool = False, cartpole_target: int = 100000
) -> None:
    """The test config, with the ramp switch and CartPole's target."""
    text = POLICY_CONFIG.format(ramp="true" if ramp else "false", cartpole_target=cartpole_target)
    h.config_path.write_text(text)


def running_pid(h: AgentHarness) -> int:
    """Pong's trainer pid once it is starting or running, else 0."""
    g = h.game("Pong")  # "starting" is enough: the stand-in writes no metrics
    return int(g["pid"]) if g.get("state") in ("starting", "running") and g.get("pid") else 0


@pytest.fixture
def sleeper(agent: AgentHarness) -> AgentHarness:
    """A real agent running Pong as a cheap stand-in trainer (policy ops act on it fast)."""
    agent.write_config(
        trainer={"command": SLEEPER}, agent={"snapshot_retention": 2, "stop_grace_s": 1.0}
    )
    agent.start()
    agent.call("add_game", game="Pong")
    wait_for(lambda: running_pid(agent), 30, "Pong running")
    return agent
