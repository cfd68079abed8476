"""PPO maths in-process: chunked gradient accumulation equals one pass."""

from __future__ import annotations

import copy

import torch

from controlroom.trainer.model import Agent
from controlroom.trainer.ppo import Batch, UpdateStats, minibatch_step
from controlroom.trainer.settings import make_settings


def _batch(n: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (n, 4, 84, 84), dtype=torch.uint8, generator=g)
    return Batch(obs, torch.randint(0, 6, (n,), generator=g), -torch.rand(n, generator=g),
                 torch.randn(n, generator=g), torch.randn(n, generator=g),
                 torch.randn(n, generator=g))


def test_chunked_minibatch_step_matches_one_pass() -> None:
    torch.manual_seed(0)
    agents = [Agent((4, 84, 84), 6)]
    agents.append(copy.deepcopy(agents[0]))
    batch, idx = _batch(64), torch.randperm(64)
    stats = []
    for agent, chunk in zip(agents, (0, 16), strict=True):
        s = make_settings({"num_envs": 8, "num_steps": 8, "minibatch_size": 64,
                           "grad_chunk_size": chunk})
        opt = torch.optim.Adam(agent.parameters(), lr=1e-3, eps=1e-5)
        stats.append(UpdateStats())
        minibatch_step(agent, opt, batch, idx, s, stats=stats[-1])
    for p, q in zip(agents[0].parameters(), agents[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    assert abs(stats[0].policy_loss - stats[1].policy_loss) < 1e-5
    assert abs(stats[0].clipfracs[0] - stats[1].clipfracs[0]) < 1e-6
