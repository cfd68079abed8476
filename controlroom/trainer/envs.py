"""envpool environments and real-episode bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import envpool
import numpy as np
import numpy.typing as npt

from controlroom.trainer.settings import TrainerSettings

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def make_envs(settings: TrainerSettings, seed: int, **options: Any) -> Any:
    """The vectorised env. Atari uses CleanRL's envpool settings: envpool's own 4-frame
    stack, 84x84 grey, episodic life (a life loss ends the training episode) and clipped
    rewards, while info["reward"] keeps the unclipped score for reporting. `options` go
    to envpool.make on top (the evaluator's thread count, a colour screen). The
    settings' envpool threads (or the agent's share) bound envpool's worker threads,
    which otherwise number the host's cores in every trainer."""
    threads = settings.threads("envpool_threads")
    if threads:
        options = {"num_threads": min(threads, settings.num_envs), **options}
    if settings.is_atari:
        atari = {"episodic_life": True, "reward_clip": True}
        return envpool.make(
            settings.env_id,
            env_type="gym",
            num_envs=settings.num_envs,
            seed=seed,
            **{**atari, **options},
        )
    return envpool.make(
        settings.env_id, env_type="gym", num_envs=settings.num_envs, seed=seed, **options
    )


def obs_shape(envs: Any) -> tuple[int, ...]:
    """Shape of one environment's observation."""
    return tuple(int(d) for d in envs.observation_space.shape)


def num_actions(envs: Any) -> int:
    """Size of the discrete action space."""
    return int(envs.action_space.n)


@dataclass
class EpisodeTracker:
    """Sums unclipped rewards per environment and reports real game-overs.

    With episodic life, `terminated` is true on every life loss; only envpool's
    info["terminated"] (the ALE game over) or a time-limit truncation ends a real game,
    so that is what is counted, once, exactly as CleanRL's RecordEpisodeStatistics does.

    A game's length is envpool's own count, info["elapsed_step"]: the step after any
    `terminated` or `truncated` is envpool's auto-reset (the action ignored, reward 0,
    the clock not advanced), so counting vector steps would add one per reset, a life
    loss's included (CartPole's 500 read 501)."""

    num_envs: int
    atari: bool
    returns: FloatArray = field(init=False)
    done_idx: IntArray = field(init=False)  # the envs whose games the last step ended

    def __post_init__(self) -> None:
        self.returns = np.zeros(self.num_envs, dtype=np.float32)
        self.done_idx = np.zeros(0, dtype=np.int64)

    def step(
        self,
        reward: FloatArray,
        terminated: npt.NDArray[np.bool_],
        truncated: npt.NDArray[np.bool_],
        info: dict[str, Any],
    ) -> list[tuple[float, int]]:
        """Account one vector step; return (return, length) of each finished real game."""
        raw = info["reward"] if self.atari else reward
        self.returns += raw
        game_over = truncated | (info["terminated"] == 1) if self.atari else terminated | truncated
        self.done_idx = done_idx = np.flatnonzero(game_over)
        elapsed = info["elapsed_step"]
        finished = [(float(self.returns[i]), int(elapsed[i])) for i in done_idx]
        self.returns[done_idx] = 0.0
        return finished
