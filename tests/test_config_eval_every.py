"""eval_every_minutes per game and per profile: a game's own wins over the applied
profile's, which wins over [evaluation]'s; one range everywhere; and it is the agent's,
never a trainer setting (not in game_settings, so not on a trainer's command line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlroom import config
from controlroom.config import ConfigError

BASE = """
[games.Pong]
[games.Breakout]
eval_every_minutes = 0
[games.CartPole]
eval_every_minutes = 5
[profiles.long]
games = ["Pong", "Breakout", "CartPole"]
eval_every_minutes = 45
[profiles.plain]
games = ["Pong"]
[evaluation]
eval_every_minutes = 90
"""


def test_a_game_wins_over_its_profile_which_wins_over_evaluation() -> None:
    cfg = config.loads(BASE)
    assert cfg.eval_every_minutes("CartPole", "long") == 5.0  # its own
    assert cfg.eval_every_minutes("Breakout", "long") == 0.0  # its own 0: off, not inherit
    assert cfg.eval_every_minutes("Pong", "long") == 45.0  # the applied profile's
    assert cfg.eval_every_minutes("Pong", "plain") == 90.0  # unset there: [evaluation]'s
    assert cfg.eval_every_minutes("Pong", None) == 90.0  # no profile applied
    assert cfg.eval_every_minutes("Pong", "gone") == 90.0  # a profile since removed


def test_a_profile_applies_only_to_its_own_games() -> None:
    cfg = config.loads(BASE.replace('games = ["Pong", "Breakout", "CartPole"]', 'games = ["Pong"]'))
    assert cfg.eval_every_minutes("Pong", "long") == 45.0
    assert cfg.eval_every_minutes("Seaquest", "long") == 90.0  # added by hand, not the profile's


def test_unset_stays_unset_through_save_and_load(tmp_path: Path) -> None:
    cfg = config.loads(BASE)
    assert cfg.games["Pong"].eval_every_minutes is None
    assert cfg.profiles["plain"].eval_every_minutes is None
    config.save(cfg, tmp_path / "c.toml")
    assert (
        "eval_every_minutes" not in (tmp_path / "c.toml").read_text().split("[games.Breakout]")[0]
    )
    assert config.load(tmp_path / "c.toml") == cfg


@pytest.mark.parametrize(
    ("table", "value", "problem"),
    [
        ("games.Pong", "-1", "must be >= 0"),
        ("games.Pong", "10081", "must be <= 10080"),
        ("games.Pong", '"30"', "must be a number"),
        ("games.Pong", "nan", "finite"),
        ("profiles.plain", "-0.5", "must be >= 0"),
        ("profiles.plain", "1e9", "must be <= 10080"),
        ("profiles.plain", "true", "must be a number"),
    ],
)
def test_out_of_range_per_game_and_profile_is_one_line(
    table: str, value: str, problem: str
) -> None:
    text = BASE.replace(f"[{table}]\n", f"[{table}]\neval_every_minutes = {value}\n", 1)
    with pytest.raises(ConfigError) as err:
        config.loads(text, "c.toml")
    line = text.splitlines().index(f"eval_every_minutes = {value}") + 1
    assert str(err.value).startswith(f"c.toml:{line}: {table}.eval_every_minutes: ")
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_it_is_no_trainer_setting() -> None:
    cfg = config.loads(BASE)
    assert "eval_every_minutes" not in cfg.game_settings("CartPole")
    assert "eval_every_minutes" not in config.SETTING_SECTIONS


def test_the_shipped_profiles_turn_it_on_where_it_pays(repo_root: Path) -> None:
    cfg = config.load(repo_root / "config.toml")
    assert cfg.evaluation.eval_every_minutes == 0.0  # off by default
    assert {n: p.eval_every_minutes for n, p in cfg.profiles.items()} == {
        "light": 30.0,
        "medium": 30.0,
        "heavy": 60.0,
        "cpu": 0.0,
    }
    assert cfg.eval_every_minutes("Freeway", "medium") == 30.0
