"""A refused op changes nothing (issue 10.2, 10.10).

An invalid `migrate` or `trial` used to stop the trainer, mark the game unwanted and
take (and prune) snapshots before the settings were fully checked. Now every value is
checked against config.toml's bounds first: same pid, same wanted flag, same snapshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.policy import migration
from tests.agent.harness import SLEEPER, AgentHarness, wait_for
from tests.policy.conftest import running_pid

BAD_CHANGES: list[dict[str, Any]] = [
    {"seed": -1},
    {"seed": 2**31},
    {"device": "tpu"},
    {"device": "cuda:x"},
    {"checkpoint_interval_s": 0},
    {"checkpoint_interval_s": 10**9},
    {"num_envs": 10**12},
    {"num_steps": 0},
    {"minibatch_size": 7},
    {"gpu_memory_fraction": 1.5},
    {"keep_checkpoints": -3},
    {"torch_threads": -1},
    {"target_episodes": 0},
    {"num_envs": 1.5},
    {"seed": True},
    {"device": 3},
]


def snapshots(h: AgentHarness) -> list[str]:
    root = migration.root(h.state_dir, "Pong")
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


@pytest.fixture
def snapshotted(sleeper: AgentHarness) -> AgentHarness:
    """The stand-in Pong after one good migrate: it has a snapshot to lose."""
    sleeper.call("migrate", game="Pong", settings={"seed": 2})
    wait_for(lambda: running_pid(sleeper), 30, "Pong running again")
    return sleeper


def test_invalid_migrate_or_trial_changes_nothing(snapshotted: AgentHarness) -> None:
    h = snapshotted
    pid, snaps = running_pid(h), snapshots(h)
    assert snaps
    for changes in BAD_CHANGES:
        for op, extra in (
            ("migrate", {}),
            ("trial", {"minutes": 1.0}),
            ("trial", {"minutes": 1.0, "mode": "beside"}),
        ):
            with pytest.raises(OpFailed) as info:
                h.call(op, game="Pong", settings=changes, **extra)
            assert info.value.code == "invalid", (op, changes, info.value)
            key = next(iter(changes))
            assert key in str(info.value), (op, changes, info.value)
    g = h.game("Pong")
    assert (running_pid(h), g["wanted"], g["settings"]["seed"]) == (pid, True, 2)
    assert snapshots(h) == snaps
    assert not Path(h.state_dir / "trials").exists()


def test_set_guard_checks_each_budget_and_names_it(agent: AgentHarness) -> None:
    h = agent
    h.write_config(trainer={"command": SLEEPER})
    h.start()
    config_before = (h.state_dir / "config.toml").read_bytes()
    deep: Any = 1
    for _ in range(6):
        deep = [deep]
    bad = [
        ("max_gpu_temp_c", -5.0),
        ("max_gpu_temp_c", 1e6),
        ("max_gpu_temp_c", deep),
        ("max_gpu_temp_c", "hot"),
        ("max_trainers", 0),
        ("max_trainers", 2.5),
        ("max_total_envs", 10**15),
        ("max_gpu_memory_fraction", 0.0),
        ("action_interval_s", -1),
        ("resume_hold_s", True),
        ("max_trainers", {"a": 1}),
    ]
    for key, value in bad:
        with pytest.raises(OpFailed) as info:
            h.call("set_guard", budgets={key: value})
        assert info.value.code == "invalid", (key, value, info.value)
        assert f"guard.{key}" in str(info.value), (key, value, info.value)
    assert (h.state_dir / "config.toml").read_bytes() == config_before
    assert h.call("set_guard", budgets={"max_gpu_temp_c": 80})["budgets"]["max_gpu_temp_c"] == 80


def test_add_game_refuses_what_the_trainer_would(agent: AgentHarness) -> None:
    agent.write_config(trainer={"command": SLEEPER})
    agent.start()
    for changes in BAD_CHANGES:
        with pytest.raises(OpFailed) as info:
            agent.call("add_game", game="Pong", settings=changes)
        assert info.value.code == "invalid", (changes, info.value)
    assert agent.call("status")["games"] == {}
