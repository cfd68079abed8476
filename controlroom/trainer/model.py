"""The actor-critic networks: CleanRL's Nature CNN for Atari and its MLP for CartPole."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Categorical

_INV_255 = 1.0 / 255.0


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights and constant bias, as in the PPO reference implementations."""
    nn.init.orthogonal_(layer.weight, std)  # type: ignore[arg-type]  # Conv/Linear weight
    nn.init.constant_(layer.bias, bias)  # type: ignore[arg-type]  # Conv/Linear bias
    return layer


def nature_cnn(channels: int) -> nn.Sequential:
    """Torso of Mnih et al. 2015 for 84x84 frames."""
    return nn.Sequential(
        layer_init(nn.Conv2d(channels, 32, 8, stride=4)),
        nn.ReLU(),
        layer_init(nn.Conv2d(32, 64, 4, stride=2)),
        nn.ReLU(),
        layer_init(nn.Conv2d(64, 64, 3, stride=1)),
        nn.ReLU(),
        nn.Flatten(),
        layer_init(nn.Linear(64 * 7 * 7, 512)),
        nn.ReLU(),
    )


def mlp(inputs: int) -> nn.Sequential:
    """Torso of CleanRL's ppo.py for low-dimensional observations."""
    return nn.Sequential(
        layer_init(nn.Linear(inputs, 64)),
        nn.Tanh(),
        layer_init(nn.Linear(64, 64)),
        nn.Tanh(),
    )


class ActorCritic(nn.Module):
    """Policy and value heads over a torso: shared for pixels (CleanRL's Atari agent),
    separate actor and critic MLPs otherwise (CleanRL's ppo.py; sharing slows CartPole).

    Observations may arrive as uint8 frames; they become float only here, one minibatch at
    a time, so the rollout buffer stays four times smaller than CleanRL's float32 copy."""

    def __init__(self, obs_shape: tuple[int, ...], n_actions: int) -> None:
        super().__init__()
        self.pixels = len(obs_shape) == 3
        if self.pixels:
            self.torso: nn.Module = nature_cnn(obs_shape[0])
            # Channels-last weights to match the channels-last input made in features().
            self.torso.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.actor = layer_init(nn.Linear(512, n_actions), std=0.01)
            self.critic = layer_init(nn.Linear(512, 1), std=1.0)
        else:
            self.torso = nn.Identity()
            self.actor = nn.Sequential(
                mlp(obs_shape[0]), layer_init(nn.Linear(64, n_actions), std=0.01)
            )
            self.critic = nn.Sequential(mlp(obs_shape[0]), layer_init(nn.Linear(64, 1), std=1.0))

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Torso output for a batch of raw observations."""
        if not self.pixels:
            return obs.float()
        # One pass converts to float and to channels-last, which oneDNN's CPU convolutions
        # run ~1.5x faster (same maths); the result is new, so scaling in place is safe.
        x = obs.to(dtype=torch.float32, memory_format=torch.channels_last).mul_(_INV_255)
        out: torch.Tensor = self.torso(x)
        return out

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, shape [batch]."""
        out: torch.Tensor = self.critic(self.features(obs))
        return out.squeeze(-1)

    def act(
        self,
        obs: torch.Tensor,
        action: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or score) actions: (action, log_prob, entropy, value)."""
        hidden = self.features(obs)
        # Logits from a Linear layer are always valid; checking them costs ~0.08 ms a call,
        # 10 ms per 128-step rollout.
        dist = Categorical(logits=self.actor(hidden), validate_args=False)
        if action is None:
            action = dist.sample()  # type: ignore[no-untyped-call]  # torch.distributions
        value: torch.Tensor = self.critic(hidden)
        log_prob = dist.log_prob(action)  # type: ignore[no-untyped-call]  # is untyped
        entropy = dist.entropy()  # type: ignore[no-untyped-call]  # in torch 2.x stubs
        return action, log_prob, entropy, value.squeeze(-1)
