"""Episode lengths count the steps an episode played, not envpool's auto-reset steps.

envpool resets an env on the step after its `terminated` or `truncated` (a life loss
under episodic life included): that step ignores the action, pays nothing and is no
step of any episode. Counted here independently of the tracker: every vector step but
the ones right after an end, from one game over to the next."""

from __future__ import annotations

from typing import Any

import numpy as np

from controlroom.trainer.envs import EpisodeTracker, make_envs
from controlroom.trainer.settings import make_settings

ALWAYS_LEFT, FIRE = 0, 1


def played_lengths(vec: Any, tracker: EpisodeTracker, action: int, steps: int) -> list[Any]:
    """(tracker's length, counted length, return) of each game the envs finished."""
    n = tracker.num_envs
    vec.reset()
    counted, after_end, out = np.zeros(n, int), np.zeros(n, bool), []
    for _ in range(steps):
        _, reward, term, trunc, info = vec.step(np.full(n, action))
        counted += ~after_end  # an auto-reset step is no step of the game
        after_end = term | trunc
        finished = tracker.step(reward, term, trunc, info)
        for i, (ret, length) in zip(tracker.done_idx, finished, strict=True):
            out.append((length, int(counted[i]), ret))
            counted[i] = 0
    return out


def test_cartpole_lengths_are_the_steps_played() -> None:
    # Always pushing left ends an episode in about ten steps: many resets in 300 steps.
    s = make_settings({"game": "CartPole-v1", "num_envs": 2, "num_steps": 4, "minibatch_size": 8})
    games = played_lengths(make_envs(s, seed=1), EpisodeTracker(2, atari=False), ALWAYS_LEFT, 300)
    assert len(games) > 10
    # CartPole pays 1 a step: a length is its return, every episode after the first too.
    assert all(length == counted == ret for length, counted, ret in games), games


def test_atari_lengths_skip_the_resets_after_each_life_loss() -> None:
    s = make_settings({"game": "Breakout-v5", "num_envs": 1, "num_steps": 4, "minibatch_size": 4})
    games = played_lengths(make_envs(s, seed=1), EpisodeTracker(1, atari=True), FIRE, 400)
    assert len(games) >= 2  # FIRE alone loses five lives in about 125 steps
    assert all(length == counted for length, counted, _ in games), games
