"""In-process checks: chunked gradients and channels-last storage equal the plain update;
a spread of the catalogue's Atari games steps (all 104 with CONTROLROOM_ALL_GAMES=1)."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch

from controlroom.trainer.envs import EpisodeTracker, make_envs, num_actions, obs_shape
from controlroom.trainer.model import ActorCritic
from controlroom.trainer.ppo import Batch, Rollout, UpdateStats, gather_rows, minibatch_step
from controlroom.trainer.settings import ATARI_GAMES, make_settings


def _batch(n: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (n, 4, 84, 84), dtype=torch.uint8, generator=g)
    return Batch(
        obs,
        torch.randint(0, 6, (n,), generator=g),
        -torch.rand(n, generator=g),
        torch.randn(n, generator=g),
        torch.randn(n, generator=g),
        torch.randn(n, generator=g),
    )


def test_chunked_minibatch_step_matches_one_pass() -> None:
    torch.manual_seed(0)
    models = [ActorCritic((4, 84, 84), 6)]
    models.append(copy.deepcopy(models[0]))
    batch, idx = _batch(64), torch.randperm(64)
    stats = []
    for model, chunk in zip(models, (64, 16), strict=True):
        s = make_settings(
            {"num_envs": 8, "num_steps": 8, "minibatch_size": 64, "grad_chunk_size": chunk}
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-5)
        stats.append(UpdateStats())
        minibatch_step(model, opt, batch, idx, s, stats=stats[-1])
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    assert abs(stats[0].policy_loss - stats[1].policy_loss) < 1e-5
    assert abs(stats[0].clipfracs[0] - stats[1].clipfracs[0]) < 1e-6


def test_channels_last_rollout_gives_the_same_update_as_plain_frames() -> None:
    s = make_settings({"num_envs": 8, "num_steps": 8, "minibatch_size": 32})
    plain = _batch(64)
    rollout = Rollout.allocate(s, (4, 84, 84), torch.uint8, torch.device("cpu"))
    rollout.obs.copy_(plain.obs.view(8, 8, 4, 84, 84))
    stored = Batch.from_rollout(rollout, plain.advantages, plain.returns)
    assert stored.obs.is_contiguous(memory_format=torch.channels_last)
    assert stored.obs.data_ptr() == rollout.obs.data_ptr()  # a view, not a copy
    idx = torch.randperm(64)[:32]
    assert torch.equal(gather_rows(stored.obs, idx), plain.obs[idx])
    assert torch.equal(gather_rows(plain.obs, idx), plain.obs[idx])

    torch.manual_seed(0)
    models = [ActorCritic((4, 84, 84), 6)]
    models.append(copy.deepcopy(models[0]))
    batches = [
        plain,
        Batch(
            stored.obs,
            *(
                getattr(plain, f)
                for f in ("actions", "logprobs", "advantages", "returns", "values")
            ),
        ),
    ]
    for model, batch in zip(models, batches, strict=True):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-5)
        minibatch_step(model, opt, batch, idx, s, stats=UpdateStats())
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


# The log's nine and a spread of the rest (paddle, maze, board, text and two-player
# games); the whole catalogue is checked against envpool's registry in
# tests/trainer/test_game_catalogue.py, and stepping every one of the 104 costs ~1 min.
STEPPED = (
    "MsPacman",
    "BeamRider",
    "Asteroids",
    "Enduro",
    "Pong",
    "Freeway",
    "SpaceInvaders",
    "Seaquest",
    "Breakout",
    "BattleZone",
    "MontezumaRevenge",
    "Tetris",
    "VideoChess",
    "Pacman",
    "Surround",
    "Kaboom",
)
ALL_GAMES = os.environ.get("CONTROLROOM_ALL_GAMES") == "1"


@pytest.mark.parametrize("game", ATARI_GAMES if ALL_GAMES else STEPPED)
def test_every_atari_game_steps_through_the_agent(game: str) -> None:
    """Set CONTROLROOM_ALL_GAMES=1 to step all 104."""
    s = make_settings({"game": game, "num_envs": 2, "num_steps": 4, "minibatch_size": 8})
    vec = make_envs(s, seed=1)
    model = ActorCritic(obs_shape(vec), num_actions(vec))
    obs, _ = vec.reset()
    tracker = EpisodeTracker(2, atari=True)
    for _ in range(4):
        with torch.no_grad():
            action, _, _, _ = model.act(torch.from_numpy(obs))
        obs, reward, term, trunc, info = vec.step(action.numpy())
        tracker.step(reward, term, trunc, info)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8


def test_life_loss_is_not_an_episode_but_game_over_is() -> None:
    tracker = EpisodeTracker(2, atari=True)
    info = {
        "reward": np.array([1.0, 21.0], np.float32),
        "terminated": np.array([0, 1]),
        "elapsed_step": np.array([7, 900]),
    }
    lost_life = np.array([True, True])  # episodic life: both report terminated
    finished = tracker.step(np.sign(info["reward"]), lost_life, np.array([False, False]), info)
    assert finished == [(21.0, 900)]  # unclipped return and length of the real game only
    assert tracker.returns.tolist() == [1.0, 0.0]
