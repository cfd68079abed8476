"""A trainer's thread settings: an explicit count wins, 0 takes the agent's share from
the environment (else the library's default), and envpool gets at most num_envs."""

from __future__ import annotations

import pytest

from controlroom.threadenv import AUTO_THREADS_ENV
from controlroom.trainer import envs
from controlroom.trainer.settings import SettingsError, make_settings


def test_zero_takes_the_agents_share_and_a_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = make_settings({"game": "CartPole-v1", "num_envs": 2})
    assert s.threads("torch_threads") == 0 and s.threads("envpool_threads") == 0
    monkeypatch.setenv(AUTO_THREADS_ENV["torch_threads"], "3")
    monkeypatch.setenv(AUTO_THREADS_ENV["envpool_threads"], "5")
    assert s.threads("torch_threads") == 3
    own = make_settings({"game": "CartPole-v1", "num_envs": 2, "envpool_threads": 1})
    assert own.threads("envpool_threads") == 1
    monkeypatch.setenv(AUTO_THREADS_ENV["torch_threads"], "lots")
    assert s.threads("torch_threads") == 0  # not a count: the library's default


def test_envpool_gets_the_share_capped_at_num_envs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTO_THREADS_ENV["envpool_threads"], "5")
    made = envs.make_envs(make_settings({"game": "CartPole-v1", "num_envs": 2}), seed=1)
    assert made.config["num_threads"] == 2
    made.close()
    one = make_settings({"game": "CartPole-v1", "num_envs": 4, "envpool_threads": 1})
    assert envs.make_envs(one, seed=1).config["num_threads"] == 1


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(SettingsError, match="--envpool-threads must be >= 0"):
        make_settings({"game": "CartPole-v1", "envpool_threads": -1})
