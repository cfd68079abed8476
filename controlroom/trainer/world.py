"""Where this process stands in a training job: torchrun's RANK, WORLD_SIZE, LOCAL_RANK.

Torch-free, so the command line can read it before torch loads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from controlroom.span import NODE_RANK_ENV, node_ranks


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
        """RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them; in a job over several
        hosts, the rank that this node's place gives (span.node_rank), ValueError when
        the nodes do not run the same number of ranks."""
        env = os.environ if env is None else env
        if "WORLD_SIZE" not in env:
            return cls()
        size, local_rank = int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))
        if NODE_RANK_ENV in env:
            return cls(_spanning_rank(env, size, local_rank), size, local_rank)
        return cls(int(env["RANK"]), size, local_rank)


def _spanning_rank(env: Mapping[str, str], size: int, local_rank: int) -> int:
    """torchrun's c10d rendezvous numbers a job's nodes by their addresses (the node rank
    given is static rendezvous's), so its RANK would put rank 0, which writes metrics and
    checkpoints, on whichever host sorts first. Numbered by the node rank each host was
    given instead, the job's rank 0 is on node 0 every time."""
    node_rank, per_node = int(env[NODE_RANK_ENV]), int(env["LOCAL_WORLD_SIZE"])
    nodes = int(env.get("GROUP_WORLD_SIZE", size // per_node))
    if nodes * per_node != size:
        raise ValueError(
            f"a job over several hosts needs the same gpus on every node: this node runs "
            f"{per_node} rank(s), the job {size} over {nodes} nodes"
        )
    if not 0 <= node_rank < nodes:
        raise ValueError(f"node_rank {node_rank} is not one of the job's {nodes} nodes")
    return node_ranks(node_rank, per_node)[local_rank]
