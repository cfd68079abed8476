"""The trainer's side of a job over several hosts: ranks numbered by the node rank each
host was given (not by torchrun's c10d order, which follows addresses), nodes of unequal
rank counts refused, and ranks whose settings would not keep them in step refused as one
job, with real torchrun launchers joined by the c10d rendezvous on loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from controlroom.agent.supervision.job import torchrun_argv
from controlroom.span import NODE_RANK_ENV, Span, node_rank_clash
from controlroom.trainer.world import World
from tests.agent.test_span_job import free_port
from tests.trainer.helpers import REPO, trainer_cmd, trainer_env
from tests.trainer.test_ddp import TINY_CARTPOLE


def spanning(node_rank: int, rank: int, local_rank: int, per_node: int = 2) -> dict[str, str]:
    """torchrun's environment for a rank of a job of 2 nodes, as the agent starts it."""
    return {
        "RANK": str(rank),
        "WORLD_SIZE": str(2 * per_node),
        "LOCAL_RANK": str(local_rank),
        "LOCAL_WORLD_SIZE": str(per_node),
        "GROUP_WORLD_SIZE": "2",
        NODE_RANK_ENV: str(node_rank),
    }


def test_ranks_follow_the_node_rank_not_torchruns_order() -> None:
    # torchrun made node 1 its first node (its address sorts first): RANK 0 and 1 there.
    assert World.from_env(spanning(1, rank=0, local_rank=0)) == World(2, 4, 0)
    assert World.from_env(spanning(1, rank=1, local_rank=1)) == World(3, 4, 1)
    assert World.from_env(spanning(0, rank=3, local_rank=1)).rank == 1
    assert World.from_env(spanning(0, rank=2, local_rank=0)).main


def test_nodes_of_unequal_rank_counts_are_refused() -> None:
    env = {**spanning(0, 0, 0), "WORLD_SIZE": "3"}  # 2 here, 1 on the other node
    with pytest.raises(ValueError, match="same gpus on every node"):
        World.from_env(env)
    with pytest.raises(ValueError, match="not one of the job's 2 nodes"):
        World.from_env(spanning(2, 0, 0))


def test_node_ranks_given_twice_are_named() -> None:
    assert node_rank_clash([1, 0], 2) is None
    assert node_rank_clash([0, 0], 2) == (
        "node_rank 0 is given to 2 nodes of a job of 2 nodes; node_rank 1 is on none: "
        "give each node its own node_rank, 0..1"
    )


def test_ranks_out_of_step_end_the_job_refused_on_both_nodes(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = []
    for node, envs in ((0, "2"), (1, "4")):
        run_dir = tmp_path / f"node{node}"
        flags = trainer_cmd(run_dir, *TINY_CARTPOLE, "--num-envs", envs, "--total-steps", "256")
        span = Span(2, node, endpoint, "out-of-step")
        nodes.append(
            subprocess.Popen(
                torchrun_argv(1, flags[5:], span, "127.0.0.1"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env={**trainer_env(), NODE_RANK_ENV: str(node)},
                cwd=REPO,
            )
        )
    for proc in nodes:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert "exitcode  : 2" in err, err[-3000:]  # the trainer's refusal, in torchrun's report
        assert "num_envs: 2, 4, by rank" in err, err[-3000:]
    assert not os.path.exists(tmp_path / "node0" / "checkpoints" / "latest.json")
