"""checkpoint_interval_s takes a fraction of a second everywhere (the trainer's flag is a
float), with one range on every path: config file, wire, host CLI, trainer flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controlroom.agent.supervision import launch
from controlroom.config import TrainerDefaults, loads
from controlroom.trainer import settings as trainer_settings
from tests.agent.harness import SLEEPER, AgentHarness


def test_the_config_bound_is_the_trainers() -> None:
    f = next(f for f in dataclasses.fields(TrainerDefaults) if f.name == "checkpoint_interval_s")
    bounds = f.metadata["bounds"]
    lo, hi, lo_open = trainer_settings._FLOAT_RANGES["checkpoint_interval"]
    assert f.type == "float"
    assert (bounds.lo, bounds.hi, bounds.lo_open) == (lo, hi, lo_open)


def test_a_fraction_from_the_config_file_reaches_the_trainer_flag(tmp_path: Path) -> None:
    cfg = loads("[trainer]\ncheckpoint_interval_s = 2.5\n")
    s = cfg.game_settings("Pong")
    assert s["checkpoint_interval_s"] == 2.5
    argv = launch.trainer_argv("Pong", s, tmp_path / "run")
    assert argv[1:3] == ["-m", "controlroom.trainer"]
    parsed = trainer_settings.parse_overrides(argv[3:])  # the trainer's own parser
    given = {k: v for k, v in parsed.items() if v is not None}
    assert trainer_settings.make_settings(given).checkpoint_interval == 2.5  # and its check


def test_wire_and_cli_take_a_fraction_and_refuse_what_the_trainer_would(
    agent: AgentHarness,
) -> None:
    agent.write_config(trainer={"command": SLEEPER})
    agent.start()
    added = agent.call("add_game", game="Pong", settings={"checkpoint_interval_s": 2.5})
    assert added["game"]["settings"]["checkpoint_interval_s"] == 2.5
    done = agent.cli("add", "Breakout", "--checkpoint-interval-s", "0.5")
    assert done.returncode == 0, done.stderr
    assert agent.game("Breakout")["settings"]["checkpoint_interval_s"] == 0.5
    for bad in ("0", "-1", "1e9"):
        refused = agent.cli("add", "Asteroids", "--checkpoint-interval-s", bad)
        assert refused.returncode == 2 and "checkpoint_interval_s" in refused.stderr, bad
    assert "Asteroids" not in agent.call("status")["games"]
