"""Trainers sharing a host's cores (issue 20.3): the pure share (threads.py), then the
real agent handing each stand-in trainer its share in its environment, the GameState and
`agent status` showing it, an explicit setting winning, and an adopted trainer's share
read back after an agent restart."""

from __future__ import annotations

import os

import pytest

from controlroom.agent.supervision.threads import (
    adopted_threads,
    processes,
    share,
    thread_env,
    threads_for,
)
from controlroom.protocol import Threads
from tests.agent.harness import SLEEPER, AgentHarness, wait_for
from tests.agent.test_placement_agent import environ, started

AUTO = {"torch_threads": 0, "envpool_threads": 0, "num_envs": 64}


@pytest.mark.parametrize(
    ("cores", "trainers", "each"),
    [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 3, 5), (16, 4, 4), (1, 8, 1), (8, 0, 8)],
)
def test_share_divides_cores_evenly_never_below_one(cores: int, trainers: int, each: int) -> None:
    assert share(cores, trainers) == each


def test_auto_settings_take_the_share_and_envpool_stops_at_num_envs() -> None:
    assert threads_for(AUTO, 16, 3) == Threads(torch=5, envpool=5, auto=True, cores=16, trainers=3)
    few = threads_for({**AUTO, "num_envs": 2}, 16, 1)
    assert (few.torch, few.envpool) == (16, 2)  # envpool uses no more threads than envs


def test_an_explicit_setting_always_wins() -> None:
    one = threads_for({**AUTO, "torch_threads": 7}, 2, 3)
    assert (one.torch, one.envpool, one.auto) == (7, 1, True)  # envpool's still chosen
    both = threads_for({**AUTO, "torch_threads": 7, "envpool_threads": 3}, 2, 3)
    assert (both.torch, both.envpool, both.auto, both.label) == (7, 3, False, "7+3*")


def test_a_job_counts_its_ranks_and_the_env_carries_the_share() -> None:
    assert processes({"gpus": 4}) == 4 and processes({"gpus": [0, 1]}) == 2
    assert processes({"gpus": 4, "command": ["x"]}) == 1  # the host's own trainer: one
    env = thread_env(Threads(torch=2, envpool=3))
    assert env == {"CONTROLROOM_TORCH_THREADS": "2", "CONTROLROOM_ENVPOOL_THREADS": "3"}
    back = adopted_threads(env, AUTO, 8)
    assert back == Threads(torch=2, envpool=3, auto=True, cores=8, trainers=0)
    assert adopted_threads({}, AUTO, 8) is None  # started by hand: nothing guessed


def _threads(agent: AgentHarness, game: str) -> dict[str, int]:
    got: dict[str, int] = wait_for(lambda: agent.game(game).get("threads"), 20, f"{game} threads")
    return got


def test_the_agent_hands_each_trainer_its_share(agent: AgentHarness) -> None:
    cores = len(os.sched_getaffinity(0))
    agent.write_config(
        trainer={"command": SLEEPER, "torch_threads": 0, "num_envs": 64, "minibatch_size": 64},
        agent={"stop_grace_s": 1.0},
    )
    agent.start()
    agent.call("add_game", game="Pong")
    pong = started(agent, "Pong")
    alone = _threads(agent, "Pong")
    assert (alone["torch"], alone["envpool"], alone["trainers"]) == (cores, cores, 1)
    assert environ(pong["pid"])["CONTROLROOM_TORCH_THREADS"] == str(cores)
    agent.call("add_game", game="Breakout")
    agent.call("add_game", game="Qbert", settings={"torch_threads": 3, "envpool_threads": 2})
    breakout = started(agent, "Breakout")
    second = _threads(agent, "Breakout")
    assert second["trainers"] == 2 and second["torch"] == share(cores, 2)
    assert environ(breakout["pid"])["CONTROLROOM_ENVPOOL_THREADS"] == str(share(cores, 2))
    started(agent, "Qbert")
    assert _threads(agent, "Qbert") == {
        "torch": 3,
        "envpool": 2,
        "auto": False,
        "cores": cores,
        "trainers": 3,
    }
    # Pong keeps the share it started with: a new game re-divides at the next start.
    assert _threads(agent, "Pong")["torch"] == cores
    line = next(x for x in agent.cli("status").stdout.splitlines() if x.startswith("Qbert"))
    assert " 3+2* " in line
    agent.kill()  # the trainers live on; the next agent adopts them and reads their share
    agent.start()
    adopted = _threads(agent, "Breakout")
    assert (adopted["torch"], adopted["trainers"]) == (share(cores, 2), 0)
