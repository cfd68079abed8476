"""The agent tells the laptop which games it can run (issue 11 §1): the picker offers
exactly these, so a game the host cannot train is never offered."""

from __future__ import annotations

import sys
from pathlib import Path

from controlroom import protocol
from controlroom.config import loads
from controlroom.games import known_names
from controlroom.tui import key_requests
from tests.agent.harness import AgentHarness


def test_built_in_trainer_offers_the_whole_catalogue(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    try:
        h.start()
        assert h.call("status")["catalogue"] == known_names()
    finally:
        h.close()


def test_own_trainer_offers_the_games_its_config_names(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    h.write_config(
        trainer={"command": [sys.executable, "-c", "pass"]}, games={"Pong": {}, "Breakout": {}}
    )
    try:
        h.start()
        with h.client() as c:  # the snapshot carries it too, not only status
            assert c.snapshot["catalogue"] == ["Breakout", "Pong"]
    finally:
        h.close()


def test_the_picker_labels_each_game_with_what_this_agent_starts(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    h.write_config(
        trainer={"num_envs": 16, "minibatch_size": 64},
        games={"Pong": {"num_envs": 4, "target_episodes": 300}},
    )
    laptop = loads("[trainer]\nnum_envs = 64\n[games.Pong]\nnum_envs = 128\n")
    try:
        h.start()
        with h.client() as c:
            state = protocol.as_state(c.snapshot)
        assert set(state.game_defaults) == set(state.catalogue)
        pong, breakout = state.game_defaults["Pong"], state.game_defaults["Breakout"]
        assert (pong.num_envs, pong.minibatch_size, pong.target_episodes) == (4, 64, 300)
        assert (breakout.num_envs, breakout.minibatch_size) == (16, 64)
        labels = dict(key_requests.game_choices(laptop, state))
        assert "4 envs · mb 64 · target 300" in labels["Pong"], labels["Pong"]
        assert "16 envs · mb 64" in labels["Breakout"], labels["Breakout"]
    finally:
        h.close()
