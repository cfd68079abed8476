"""A part of a job over several hosts is changed by none of the agent's own policies on
this host alone: the ramp and a profile leave it out (saying so), a migration and an
`instead` trial are refused naming the job, and the guard's pause says the whole job
stops. Every node of such a job must run the same settings, or the job refuses to start.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.policy import guard, profiles, ramp
from controlroom.config import Settings
from controlroom.protocol import GameState, JobSpan
from tests.agent.harness import AgentHarness
from tests.gamestates import game_state

JOB_ID = "pong-2"
SHAPE: Settings = {"num_envs": 8, "num_steps": 128, "minibatch_size": 256, "gpus": 1}


def part(game: str = "Pong", node_rank: int = 1, **settings: Any) -> GameState:
    """A running part of a job over two hosts."""
    span = JobSpan(
        nodes=2,
        node_rank=node_rank,
        ranks=[node_rank],
        world_size=2,
        rendezvous="10.0.0.5:29400",
        job_id=JOB_ID,
    )
    spans = {"nodes": 2, "node_rank": node_rank, "rendezvous": "10.0.0.5:29400", "job_id": JOB_ID}
    return game_state({**SHAPE, **spans, **settings}, game=game, span=span)


def test_a_profile_skips_a_part_it_would_migrate_stop_or_start() -> None:
    games = {"Pong": part(), "Breakout": part("Breakout"), "Seaquest": game_state(SHAPE)}
    target = {
        "Pong": {**SHAPE, "num_envs": 32},  # would migrate
        "Qbert": {**SHAPE, "nodes": 2, "node_rank": 0, "rendezvous": "h:1", "job_id": "q"},
    }
    plan = profiles.diff(games, target)
    kinds = {a.game: a.kind for a in plan}
    # Breakout is a part not in the profile: a stop would stop the whole job.
    assert kinds == {"Pong": "skip", "Breakout": "skip", "Qbert": "skip", "Seaquest": "stop"}
    lines = [a.describe() for a in plan]
    assert lines[0] == "stop Seaquest"
    assert (
        f"Pong: part of a job over 2 hosts (node 1 of job {JOB_ID}); change it from the laptop"
        in lines
    )
    assert "Qbert: part of a job over 2 hosts (node 0 of job q); change it from the laptop" in lines


def test_the_ramp_leaves_a_part_alone_and_says_why() -> None:
    assert ramp.left_alone("Pong", game_state(SHAPE, game="Pong"), SHAPE) is None
    assert ramp.left_alone("Pong", None, SHAPE) is None
    why = ramp.left_alone("Pong", part(), SHAPE)
    assert why is not None and f"node 1 of job {JOB_ID}" in why and "laptop" in why
    configured = {**SHAPE, "nodes": 3, "node_rank": 2, "rendezvous": "h:1", "job_id": "j"}
    assert ramp.left_alone("Pong", None, configured) == (
        "Pong: part of a job over 3 hosts (node 2 of job j); change it from the laptop"
    )


def test_the_guards_pause_of_a_part_says_the_whole_job_stops() -> None:
    assert guard.pause_text(game_state(SHAPE, game="Pong"), "GPU 0 at 90 C") == (
        "paused Pong: GPU 0 at 90 C"
    )
    text = guard.pause_text(part(), "GPU 0 at 90 C")
    assert text.startswith("paused Pong: GPU 0 at 90 C; Pong is node 1 of job pong-2 over 2")
    assert "the whole job stops" in text and "rendezvous" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_agent_refuses_to_change_a_part_alone(policy_agent: AgentHarness) -> None:
    """A lone agent's part waits at the rendezvous for its other node: enough to be
    refused (migrate op and CLI, instead trial) and skipped (profile, ramp), nothing
    changed."""
    h = policy_agent
    h.start()
    spans = {"nodes": 2, "node_rank": 1, "rendezvous": f"127.0.0.1:{_free_port()}"}
    h.call("add_game", game="CartPole", settings={**spans, "job_id": JOB_ID})
    before = h.game("CartPole")["settings"]
    named = f"CartPole is node 1 of job {JOB_ID} over 2 hosts"
    for op, extra in (("migrate", {}), ("trial", {"minutes": 1.0, "mode": "instead"})):
        with pytest.raises(OpFailed) as info:
            h.call(op, game="CartPole", settings={"num_envs": 4}, **extra)
        assert info.value.code == "invalid", info.value
        assert named in info.value.message and "nothing changed" in info.value.message
    cli = h.cli("migrate", "CartPole", "--num-envs", "4")
    assert cli.returncode != 0 and named in cli.stderr, cli.stderr
    shown = h.call("apply_profile", name="solo", dry_run=True)["actions"]
    assert [(a["kind"], a["text"]) for a in shown] == [
        (
            "skip",
            f"CartPole: part of a job over 2 hosts (node 1 of job {JOB_ID}); "
            "change it from the laptop",
        )
    ]
    h.call("apply_profile", name="solo", dry_run=False)
    g = h.game("CartPole")
    assert (g["settings"], g["wanted"]) == (before, True)
    assert not Path(h.state_dir / "snapshots").exists()
    h.call("set_ramp", enabled=True)  # its first step is CartPole, at the ramp's shape
    skipped = [e for e in h.call("events", limit=50)["events"] if e["kind"] == "ramp_skipped"]
    assert [e["message"] for e in skipped] == [
        f"CartPole: part of a job over 2 hosts (node 1 of job {JOB_ID}); change it from the laptop"
    ]
    assert h.game("CartPole")["settings"] == before
    h.call("stop_game", game="CartPole")
