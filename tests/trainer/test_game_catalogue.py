"""One game catalogue (controlroom/games.py): exactly the Atari games envpool ships, every
one of them trainable by the built-in trainer; bad settings are exit 2 and one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlroom import games
from controlroom.trainer.settings import known_env_ids, make_settings
from tests.trainer.helpers import kinds, read_metrics, run_trainer


def test_catalogue_is_exactly_the_atari_games_envpool_ships() -> None:
    registration = pytest.importorskip("envpool.registration")
    shipped = {
        task.removesuffix("-v5")
        for task, spec in registration.registry.specs.items()
        if spec[0] == "envpool.atari" and task.endswith("-v5")
    }
    assert set(games.ATARI_GAMES) == shipped
    assert len(games.ATARI_GAMES) == len(set(games.ATARI_GAMES))


def test_trainer_accepts_every_game_of_the_catalogue() -> None:
    assert known_env_ids() == games.known_env_ids()
    for name in games.known_names():
        s = make_settings({"game": name})
        assert s.env_id == games.env_id_for(name)
        assert s.is_atari == (name in games.ATARI_GAMES)
        assert make_settings({"game": s.env_id}).env_id == s.env_id


def test_battlezone_trains_a_few_updates(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_trainer(
        run,
        "--game",
        "BattleZone",
        "--num-envs",
        "2",
        "--num-steps",
        "16",
        "--minibatch-size",
        "16",
        "--torch-threads",
        "1",
        "--total-steps",
        "64",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = read_metrics(run)
    assert kinds(lines).count("update") == 2 and lines[-1]["reason"] == "budget"
    assert lines[0]["settings"]["game"] == "BattleZone" and lines[-1]["global_step"] == 64
    assert (run / "checkpoints" / "ckpt-000000000064.pt").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--game", "BattleZon"], "unknown game 'BattleZon' (did you mean 'BattleZone'?)"),
        (["--game", "Ant-v5"], "unknown game 'Ant-v5'"),
        (["--num-envs", "eight"], "--num-envs: invalid int value: 'eight'"),
        (["--no-such-flag", "1"], "unrecognized arguments: --no-such-flag 1"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--seed", str(2**31)], "--seed must be <= 2147483647"),
        (["--num-envs", "100000"], "--num-envs must be <= 4096"),
        (["--learning-rate", "nan"], "--learning-rate must be in (0, 1], got nan"),
        (["--checkpoint-interval", "inf"], "--checkpoint-interval must be in (0,"),
        (["--gamma", "1.5"], "--gamma must be in [0, 1], got 1.5"),
        (["--metrics-segment-mb", "0"], "--metrics-segment-mb must be in (0,"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    result = run_trainer(tmp_path / "run", *args, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # the agent shows a trainer's last line: one
    assert line.startswith("controlroom.trainer: error: ") and says in line, line
    assert not (tmp_path / "run").exists()
