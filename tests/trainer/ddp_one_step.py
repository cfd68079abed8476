"""Run under torchrun by test_ddp.py: one PPO gradient step on a fixed minibatch, split over
the ranks, must leave the parameters one rank gets from the whole minibatch.

Prints the largest parameter difference; rank 0 prints "ok" when every rank agrees."""

from __future__ import annotations

import numpy as np
import torch

from controlroom.trainer import distributed
from controlroom.trainer.loop import seed_everything
from controlroom.trainer.model import ActorCritic
from controlroom.trainer.ppo import Batch, UpdateStats, minibatch_step
from controlroom.trainer.runtime import leave
from controlroom.trainer.settings import TrainerSettings
from controlroom.trainer.world import World

SAMPLES = 64


def fixed_batch(obs_dim: int) -> Batch:
    """The same data on every rank."""
    g = torch.Generator().manual_seed(7)
    return Batch(
        obs=torch.randn(SAMPLES, obs_dim, generator=g),
        actions=torch.randint(0, 2, (SAMPLES,), generator=g),
        logprobs=torch.full((SAMPLES,), -0.69),
        advantages=torch.randn(SAMPLES, generator=g),
        returns=torch.randn(SAMPLES, generator=g),
        values=torch.randn(SAMPLES, generator=g),
    )


def step(model: ActorCritic, batch: Batch, idx: torch.Tensor, sync: distributed.Local) -> None:
    # norm_adv off: advantages are normalised per rank's minibatch, as CleanRL's multi-GPU
    # PPO does, which is the one place a split minibatch differs from a whole one.
    s = TrainerSettings(game="CartPole-v1", norm_adv=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-5)
    minibatch_step(model, opt, batch, idx, s, stats=UpdateStats(), sync=sync)


def main() -> int:
    world = World.from_env()
    sync = distributed.join(world, torch.device("cpu"), 60.0)
    seed_everything(1)
    whole, split = ActorCritic((4,), 2), ActorCritic((4,), 2)
    split.load_state_dict(whole.state_dict())
    batch = fixed_batch(4)
    step(whole, batch, torch.arange(SAMPLES), distributed.Local())
    mine = torch.from_numpy(np.array_split(np.arange(SAMPLES), world.size)[world.rank])
    step(split, batch, mine, sync)
    diff = max(
        float((a - b).abs().max())
        for a, b in zip(whole.state_dict().values(), split.state_dict().values(), strict=True)
    )
    digests = sync.digests(split)
    print(f"rank {world.rank}: max difference {diff:.3g}", flush=True)
    sync.close()
    if world.main and len(set(digests)) == 1 and diff < 1e-6:
        print("ok", flush=True)
    return 0 if diff < 1e-6 else 1


if __name__ == "__main__":
    # As the trainer's ranks leave (runtime.leave): past sync.close() gloo's threads can
    # still abort the interpreter's teardown ("terminate called without an active
    # exception", exit -6) after the figures are out.
    leave(main())
