"""Periodic evaluation: a real agent training a real CartPole evaluates it in the
background, keeps the score in the game's history and state, and still has it after a
restart (read back from the run dir's evaluations.jsonl)."""

from __future__ import annotations

from typing import Any

from controlroom.agent.evaluation.runner import has_checkpoint
from controlroom.protocol import HISTORY_COLUMNS
from tests.agent.harness import AgentHarness, wait_for

EVAL = HISTORY_COLUMNS.index("eval_mean")


def eval_rows(agent: AgentHarness) -> list[list[Any]]:
    rows = agent.call("history", game="CartPole")["rows"]
    return [r for r in rows if r[EVAL] is not None]


def test_a_training_game_is_evaluated_every_n_minutes_and_kept(agent: AgentHarness) -> None:
    # 0.05 minutes: due every 3 s, so the test sees two within a minute or so.
    agent.write_config(agent={"telemetry_s": 0.5}, games={"CartPole": {"target_episodes": 10**9}})
    text = agent.config_path.read_text()
    agent.config_path.write_text(text + "\n[evaluation]\neval_every_minutes = 0.05\nepisodes = 2\n")
    agent.start()
    agent.call("add_game", game="CartPole")
    wait_for(lambda: len(eval_rows(agent)) >= 2, 180, "two periodic evaluations")
    rows = eval_rows(agent)
    assert all(r[HISTORY_COLUMNS.index("return_mean")] is None for r in rows)
    assert all(r[EVAL] >= 8 for r in rows)  # CartPole scores at least 8 steps an episode
    wait_for(lambda: agent.game("CartPole").get("last_eval") is not None, 30, "the pane's score")
    lines = (agent.state_dir / "runs" / "CartPole" / "evaluations.jsonl").read_text().splitlines()
    assert len(lines) >= 2
    agent.call("stop_game", game="CartPole")
    agent.kill()
    agent.start()
    wait_for(lambda: len(eval_rows(agent)) >= len(rows), 60, "the scores after a restart")
    assert agent.game("CartPole").get("last_eval") is not None


PROFILE = """
[profiles.watched]
games = ["CartPole", "Pong"]
num_envs = 2
num_steps = 16
minibatch_size = 16
eval_every_minutes = 0.05
"""


def test_a_profile_turns_it_on_and_a_games_own_zero_keeps_it_off(agent: AgentHarness) -> None:
    # [evaluation] stays off; the profile evaluates its games every 3 s, but Pong's own
    # 0 wins: of two running games with checkpoints, only CartPole is evaluated.
    agent.write_config(
        agent={"telemetry_s": 0.5},
        trainer={"device": "cpu"},
        games={
            "CartPole": {"target_episodes": 10**9},
            "Pong": {"target_episodes": 10**9, "eval_every_minutes": 0},
        },
    )
    agent.config_path.write_text(agent.config_path.read_text() + PROFILE)
    agent.start()
    agent.call("apply_profile", name="watched")
    pong_run = agent.state_dir / "runs" / "Pong"
    wait_for(lambda: has_checkpoint(pong_run), 180, "a checkpoint of Pong's")
    seen = len(eval_rows(agent))
    wait_for(lambda: len(eval_rows(agent)) >= seen + 2, 180, "two more of CartPole's")
    assert agent.game("Pong")["state"] == "running"
    pong_rows = agent.call("history", game="Pong")["rows"]
    assert all(r[EVAL] is None for r in pong_rows) and agent.game("Pong").get("last_eval") is None
    assert not (pong_run / "evaluations.jsonl").exists()
    # The agent's setting, never the trainer's: not in what the trainers run with.
    assert "eval_every_minutes" not in agent.game("Pong")["settings"]
    assert "eval_every_minutes" not in agent.game("CartPole")["settings"]
