"""The agent tells the laptop which games it can run (issue 11 §1): the picker offers
exactly these, so a game the host cannot train is never offered."""

from __future__ import annotations

import sys
from pathlib import Path

from controlroom.games import known_names
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
