"""The `gpus` setting (issue 14): one rule for config.toml, a client's override and the
command line, and the two readings every part uses (world size, pinned devices)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlroom import config
from controlroom.agent.errors import OpError
from controlroom.agent.supervision.launch import check_overrides, effective_settings, validate
from controlroom.gpus import MAX_GPUS, gpus_problem, parse_gpus, pinned_gpus, world_size
from tests.gamestates import game_state


def test_count_and_pinned_list_read_as_world_size_and_devices() -> None:
    assert (world_size({"gpus": 4}), pinned_gpus({"gpus": 4})) == (4, None)
    assert (world_size({"gpus": [1, 3]}), pinned_gpus({"gpus": [1, 3]})) == (2, [1, 3])
    assert (world_size({}), pinned_gpus({})) == (1, None)  # stored before the setting


def test_config_sets_gpus_per_game_and_profile_over_the_default() -> None:
    cfg = config.loads(
        "[trainer]\ngpus = 2\n[games.Pong]\ngpus = [1]\n[games.Breakout]\n"
        '[profiles.p]\ngames = ["Pong", "Breakout"]\ngpus = 3\n'
    )
    assert cfg.game_settings("Pong")["gpus"] == [1]
    assert cfg.game_settings("Breakout")["gpus"] == 2
    from controlroom.agent.policy.profiles import target_settings

    assert {g: s["gpus"] for g, s in target_settings(cfg, "p").items()} == {
        "Pong": 3,
        "Breakout": 3,
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "1..64"),
        ([], "at least one"),
        ([2, 2], "GPU 2 more than once"),
        ([-1], "out of range"),
        (True, "not a boolean"),
        ("2", "not a string"),
    ],
)
def test_a_bad_override_is_refused_naming_gpus(value: object, words: str) -> None:
    with pytest.raises(OpError) as err:
        check_overrides({"gpus": value})
    assert err.value.code == "invalid" and "gpus" in err.value.message
    assert words in err.value.message


def test_effective_settings_take_the_override_and_validate_accepts_an_old_row() -> None:
    cfg = config.loads("")
    assert effective_settings(cfg, "Pong", {"gpus": [0, 3]})["gpus"] == [0, 3]
    old = cfg.game_settings("Pong")
    del old["gpus"]
    validate(old)  # a game stored before `gpus` existed is one GPU, not invalid


def test_command_line_forms() -> None:
    assert parse_gpus("2") == 2
    assert parse_gpus("0,3") == [0, 3]
    assert parse_gpus("3,") == [3]
    for bad in ("", "two", "0,x", "0", "1,1", "-1"):
        with pytest.raises(ValueError, match="--gpus"):
            parse_gpus(bad)


@given(st.integers(min_value=-5, max_value=MAX_GPUS + 5))
def test_counts_within_bounds_are_exactly_the_accepted_ones(n: int) -> None:
    assert (gpus_problem(n) is None) == (1 <= n <= MAX_GPUS)


@given(st.lists(st.integers(min_value=0, max_value=MAX_GPUS - 1), min_size=1, unique=True))
def test_any_distinct_index_list_is_accepted_and_sized(indices: list[int]) -> None:
    assert gpus_problem(indices) is None
    assert world_size({"gpus": indices}) == len(indices)


def test_a_profile_moves_running_games_to_its_gpus() -> None:
    from controlroom.agent.policy import profiles

    cfg = config.loads(
        '[games.Pong]\n[games.Breakout]\n[profiles.p]\ngames = ["Pong", "Breakout"]\n'
        "num_envs = 8\nnum_steps = 128\nminibatch_size = 256\ngpus = [1]\n"
    )
    shape = {"num_envs": 8, "num_steps": 128, "minibatch_size": 256}
    games = {
        "Pong": game_state({**shape, "gpus": [1]}),
        "Breakout": game_state({**shape, "gpus": 1}),
    }
    plan = profiles.diff(games, profiles.target_settings(cfg, "p"))
    assert [(a.kind, a.game) for a in plan] == [("migrate", "Breakout"), ("keep", "Pong")]
    assert plan[0].describe() == "migrate Breakout: gpus 1 -> [1]"
    assert profiles.profile_part(plan[0].settings) == {**shape, "gpus": [1]}
