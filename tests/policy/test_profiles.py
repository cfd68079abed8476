"""Applying a profile = a plan of stop / migrate / start / keep, in that order."""

from __future__ import annotations

from controlroom.agent.policy import profiles
from controlroom.config import loads, starter_text
from controlroom.protocol import GameState
from tests.gamestates import game_state


def running(envs: int, mb: int = 512, state: str = "running", wanted: bool = True) -> GameState:
    settings = {"num_envs": envs, "num_steps": 128, "minibatch_size": mb}
    return game_state(settings, state=state, wanted=wanted)


def test_medium_from_light() -> None:
    cfg = loads(starter_text())
    games = {
        "MsPacman": running(32),
        "Pong": running(32),
        "Enduro": running(32),
        "Seaquest": running(32, wanted=False, state="stopped"),
    }
    target = profiles.target_settings(cfg, "medium")
    plan = profiles.diff(games, target)
    assert [(a.kind, a.game) for a in plan] == [
        ("stop", "Enduro"),
        ("migrate", "MsPacman"),
        ("migrate", "Pong"),
        ("start", "Asteroids"),
        ("start", "Freeway"),
    ]
    text = [d.text for d in profiles.on_the_wire(plan)]
    assert text[1] == "migrate MsPacman: num_envs 32 -> 64, minibatch_size 512 -> 1024"
    assert text[3] == "start Asteroids: 64 envs, 128 steps, minibatch 1024"
    assert target["Asteroids"]["env_id"] == "Asteroids-v5"
    assert profiles.final_envs(target) == 256


def test_same_profile_twice_keeps_everything() -> None:
    cfg = loads(starter_text())
    games = {"MsPacman": running(32), "Pong": running(32, state="paused")}
    plan = profiles.diff(games, profiles.target_settings(cfg, "light"))
    assert [a.kind for a in plan] == ["keep", "keep"]
