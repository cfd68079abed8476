"""Periodic evaluation: a real agent training a real CartPole evaluates it in the
background, keeps the score in the game's history and state, and still has it after a
restart (read back from the run dir's evaluations.jsonl)."""

from __future__ import annotations

from typing import Any

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
