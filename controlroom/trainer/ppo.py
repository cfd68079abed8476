"""Rollout storage, GAE and the clipped PPO update (CleanRL's ppo_atari_envpool)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from controlroom.trainer.distributed import Local
from controlroom.trainer.model import ActorCritic
from controlroom.trainer.settings import TrainerSettings

# On a CPU, chunks this size run as fast as whole minibatches and bound the memory; a GPU
# is faster with the whole minibatch and has the memory (capped by --gpu-memory-fraction).
CPU_CHUNK = 256


@dataclass
class Rollout:
    """One rollout on the training device. Observations keep the env's dtype (uint8 for
    Atari): 4x less memory than CleanRL's float32 buffer and no full-size float copy."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    values: torch.Tensor

    @classmethod
    def allocate(
        cls,
        s: TrainerSettings,
        obs_shape: tuple[int, ...],
        obs_dtype: torch.dtype,
        device: torch.device,
    ) -> Rollout:
        """Empty buffers for num_steps x num_envs samples."""
        shape = (s.num_steps, s.num_envs)

        def zeros(dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, device=device)

        return cls(
            _obs_buffer(shape, obs_shape, obs_dtype, device),
            zeros(torch.long),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
        )


def _obs_buffer(
    shape: tuple[int, int], obs_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Frames are stored channels-last ([..., H, W, C] in memory, seen as [..., C, H, W]),
    the layout the network runs in: a minibatch gathered from it converts to float with a
    plain copy instead of a transposing one (~5 % of an update on a CPU)."""
    if len(obs_shape) != 3:
        return torch.zeros(shape + obs_shape, dtype=dtype, device=device)
    channels, height, width = obs_shape
    hwc = torch.zeros((*shape, height, width, channels), dtype=dtype, device=device)
    return hwc.permute(0, 1, 4, 2, 3)


@dataclass
class UpdateStats:
    """Losses of the last minibatch and clip fraction over the update, as CleanRL logs."""

    policy_loss: float = 0.0
    value_loss: float = 0.0
    entropy: float = 0.0
    approx_kl: float = 0.0
    clipfrac: float = 0.0
    clipfracs: list[float] = field(default_factory=list)


def gae(
    r: Rollout, next_value: torch.Tensor, next_done: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, shape [num_steps, num_envs]."""
    advantages = torch.zeros_like(r.rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(r.rewards.shape[0])):
        nonterminal = 1.0 - (next_done if t == r.rewards.shape[0] - 1 else r.dones[t + 1])
        next_v = next_value if t == r.rewards.shape[0] - 1 else r.values[t + 1]
        delta = r.rewards[t] + gamma * next_v * nonterminal - r.values[t]
        last = delta + gamma * lam * nonterminal * last
        advantages[t] = last
    return advantages, advantages + r.values


@dataclass
class Batch:
    """A rollout flattened to [batch, ...] views (no copies) plus GAE targets."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor

    @classmethod
    def from_rollout(cls, r: Rollout, adv: torch.Tensor, ret: torch.Tensor) -> Batch:
        """Flatten the step and env axes."""
        obs = r.obs.reshape((-1, *r.obs.shape[2:]))
        return cls(
            obs,
            r.actions.reshape(-1),
            r.logprobs.reshape(-1),
            adv.reshape(-1),
            ret.reshape(-1),
            r.values.reshape(-1),
        )


def gather_rows(obs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """obs[idx], for channels-last frames by index_select on each frame's contiguous bytes
    (one copy per frame): ~7x faster on a CPU than indexing's element-by-element walk over
    the channels-last strides, which cost ~4 % of an update."""
    if obs.dim() != 4 or not obs.is_contiguous(memory_format=torch.channels_last):
        return obs[idx]
    nhwc = obs.permute(0, 2, 3, 1)
    rows = torch.index_select(nhwc.reshape(nhwc.shape[0], -1), 0, idx)
    return rows.view(len(idx), *nhwc.shape[1:]).permute(0, 3, 1, 2)


def ppo_loss(
    model: ActorCritic, b: Batch, idx: torch.Tensor, adv: torch.Tensor, s: TrainerSettings
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate + clipped value - entropy loss on (part of) a minibatch, with
    the figures CleanRL logs for it."""
    _, newlogprob, entropy, newvalue = model.act(gather_rows(b.obs, idx), b.actions[idx])
    logratio = newlogprob - b.logprobs[idx]
    ratio = logratio.exp()
    pg_loss = torch.max(
        -adv * ratio, -adv * torch.clamp(ratio, 1 - s.clip_coef, 1 + s.clip_coef)
    ).mean()
    v_loss = value_loss(newvalue, b, idx, s)
    ent = entropy.mean()
    with torch.no_grad():
        figures = {
            "approx_kl": float(((ratio - 1) - logratio).mean()),
            "clipfrac": float(((ratio - 1.0).abs() > s.clip_coef).float().mean()),
            "policy_loss": float(pg_loss),
            "value_loss": float(v_loss),
            "entropy": float(ent),
        }
    return pg_loss - s.ent_coef * ent + s.vf_coef * v_loss, figures


def value_loss(
    newvalue: torch.Tensor, b: Batch, idx: torch.Tensor, s: TrainerSettings
) -> torch.Tensor:
    """Half squared error, clipped around the rollout's values when clip_vloss is on."""
    unclipped = (newvalue - b.returns[idx]) ** 2
    if not s.clip_vloss:
        return 0.5 * unclipped.mean()
    old = b.values[idx]
    clipped = old + torch.clamp(newvalue - old, -s.clip_coef, s.clip_coef)
    return 0.5 * torch.max(unclipped, (clipped - b.returns[idx]) ** 2).mean()


def update(
    model: ActorCritic,
    optimizer: torch.optim.Optimizer,
    b: Batch,
    s: TrainerSettings,
    rng: np.random.Generator,
    *,
    should_stop: Callable[[], bool],
    sync: Local | None = None,
) -> UpdateStats:
    """update_epochs passes of shuffled minibatches. Stops between minibatches when asked
    (a signal), which leaves model and optimizer consistent for a checkpoint. On a job
    (`sync`), each rank shuffles its own rollout and the gradients are averaged."""
    sync = sync or Local()
    stats = UpdateStats()
    n = b.actions.shape[0]
    for _ in range(s.update_epochs):
        order = torch.from_numpy(rng.permutation(n)).to(b.actions.device)
        for start in range(0, n, s.minibatch_size):
            if should_stop():
                return _finish(stats)
            minibatch_step(
                model,
                optimizer,
                b,
                order[start : start + s.minibatch_size],
                s,
                stats=stats,
                sync=sync,
            )
        if s.target_kl and sync.any(stats.approx_kl > s.target_kl):
            break
    return _finish(stats)


def minibatch_step(
    model: ActorCritic,
    optimizer: torch.optim.Optimizer,
    b: Batch,
    idx: torch.Tensor,
    s: TrainerSettings,
    *,
    stats: UpdateStats,
    sync: Local | None = None,
) -> None:
    """One optimiser step on one minibatch. The minibatch goes through the network in
    chunks of at most grad_chunk_size samples whose gradients are summed, weighted by
    size: the same gradient as one pass (the losses are means), with a fraction of the
    activation memory, which is what lets many trainers share one host."""
    adv = b.advantages[idx]
    if s.norm_adv:  # over the whole minibatch, as in one pass
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    chunk = s.grad_chunk_size or (len(idx) if idx.device.type == "cuda" else CPU_CHUNK)
    optimizer.zero_grad(set_to_none=True)
    totals = dict.fromkeys(("approx_kl", "clipfrac", "policy_loss", "value_loss", "entropy"), 0.0)
    for part, part_adv in zip(torch.split(idx, chunk), torch.split(adv, chunk), strict=True):
        weight = len(part) / len(idx)
        loss, figures = ppo_loss(model, b, part, part_adv, s)
        (loss * weight).backward()  # type: ignore[no-untyped-call]  # torch stub gap
        for key, value in figures.items():
            totals[key] += weight * value
    if sync is not None:
        sync.average_grads(model.parameters())  # before clipping: the job's gradient
    nn.utils.clip_grad_norm_(model.parameters(), s.max_grad_norm)
    optimizer.step()
    stats.clipfracs.append(totals.pop("clipfrac"))
    for key, value in totals.items():
        setattr(stats, key, value)


def _finish(stats: UpdateStats) -> UpdateStats:
    stats.clipfrac = float(np.mean(stats.clipfracs)) if stats.clipfracs else 0.0
    return stats
