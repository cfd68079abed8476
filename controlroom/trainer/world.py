"""Where this process stands in a training job: torchrun's RANK, WORLD_SIZE, LOCAL_RANK.

Torch-free, so the command line can read it before torch loads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place in the job; one rank when torchrun did not start it."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes metrics and checkpoints."""
        return self.rank == 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> World:
        """RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them."""
        env = os.environ if env is None else env
        if "WORLD_SIZE" not in env:
            return cls()
        return cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0")))
