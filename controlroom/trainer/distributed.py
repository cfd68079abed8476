"""Data-parallel PPO over torch.distributed: one game's job of several ranks under torchrun.

Each rank steps its own envpool envs; after every minibatch's backward pass the ranks'
gradients are averaged with one `dist.all_reduce` over a flat buffer (CleanRL's
ppo_atari_multigpu does the same), then every rank clips and steps identically. Why not
DistributedDataParallel: a minibatch here is several backward passes (gradient chunks,
ppo.minibatch_step) that DDP would need `no_sync()` around; the network is small, so
DDP's overlap of communication with backward gains little; and the model stays a plain
ActorCritic, so a checkpoint's state_dict has the same keys at every world size (no
`module.` prefix) and resumes at any other.

Ranks also agree, by collectives at fixed points of the loop, on everything that decides
control flow (stopping on a signal, whether a checkpoint is due, the episode count and
returns), so no rank ever waits in a collective the others skip. With one rank (no
torchrun) `Local` does nothing and no process group is created: today's trainer exactly.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch._C._distributed_c10d import PrefixStore, TCPStore  # dist's, typed

from controlroom.span import NODE_RANK_ENV, node_rank_clash
from controlroom.trainer.world import World

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seeds of rank r are offset by r * RANK_SEED_STRIDE, so ranks sample different actions.
RANK_SEED_STRIDE = 1_000_003


class Local:
    """A job of one rank: every agreement is this rank's own value, at no cost."""

    world = World()

    def average_grads(self, params: Iterable[nn.Parameter]) -> None:
        """Nothing to average with."""

    def any(self, flag: bool) -> bool:
        """Whether any rank's flag is set."""
        return flag

    def from_main(self, flag: bool) -> bool:
        """Rank 0's flag."""
        return flag

    def gather(self, items: list[T]) -> list[T]:
        """Every rank's items, in rank order."""
        return items

    def share(self, value: T) -> T:
        """Rank 0's value (picklable) on every rank."""
        return value

    def broadcast_model(self, model: nn.Module) -> None:
        """Give every rank rank 0's parameters."""

    def digests(self, model: nn.Module) -> list[str]:
        """Each rank's parameter digest, in rank order (none to compare on one rank)."""
        return []

    def blocked_s(self) -> float:
        """How long this rank has been waiting in the current collective (0: not waiting)."""
        return 0.0

    def close(self) -> None:
        """Leave the job."""


class ProcessGroup(Local):
    """A rank of a torch.distributed job: gloo on CPU, nccl on CUDA."""

    def __init__(self, world: World, device: torch.device, timeout_s: float) -> None:
        self.world, self.device = world, device
        backend = "nccl" if device.type == "cuda" else "gloo"
        # A collective that waits longer than this raises; see docs/multi-gpu.md for how
        # it relates to the agent's hang timeout.
        timeout = datetime.timedelta(seconds=timeout_s)
        # The rank is given, not read from RANK: a job over several hosts numbers its
        # ranks by node rank (world.py).
        dist.init_process_group(backend, timeout=timeout, rank=world.rank, world_size=world.size)
        self._lock = threading.Lock()
        self._waiting_since: float | None = None
        log.info("rank %d of %d joined the job (%s)", world.rank, world.size, backend)

    def _wait(self) -> _Waiting:
        return _Waiting(self)

    def average_grads(self, params: Iterable[nn.Parameter]) -> None:
        """All-reduce the gradients as one flat buffer, then divide by the world size."""
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        with self._wait():
            dist.all_reduce(flat)
        flat /= self.world.size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool) -> bool:
        """Whether any rank's flag is set (all ranks get the same answer)."""
        value = torch.tensor([int(flag)], device=self.device)
        with self._wait():
            dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def from_main(self, flag: bool) -> bool:
        """Rank 0's flag on every rank."""
        value = torch.tensor([int(flag)], device=self.device)
        with self._wait():
            dist.broadcast(value, src=0)
        return bool(value.item())

    def gather(self, items: list[T]) -> list[T]:
        """Every rank's items, in rank order, on every rank."""
        out: list[list[T] | None] = [None] * self.world.size
        with self._wait():
            dist.all_gather_object(out, items)
        return [item for part in out for item in (part or [])]

    def share(self, value: T) -> T:
        """Rank 0's value (picklable) on every rank."""
        box = [value]
        with self._wait():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_model(self, model: nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        with self._wait():
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)

    def digests(self, model: nn.Module) -> list[str]:
        """Each rank's parameter digest, in rank order, on every rank."""
        return self.gather([param_digest(model)])

    def blocked_s(self) -> float:
        """Seconds spent so far in the collective this rank is waiting in, else 0."""
        with self._lock:
            since = self._waiting_since
        return time.monotonic() - since if since is not None else 0.0

    def close(self) -> None:
        """Leave the process group once every rank is done with it (a rank tearing down
        gloo while a peer still talks to it can abort the process)."""
        dist.barrier()
        dist.destroy_process_group()


class _Waiting:
    """Marks the span of a collective, read by the heartbeat thread (`blocked_s`)."""

    def __init__(self, group: ProcessGroup) -> None:
        self.group = group

    def __enter__(self) -> None:
        with self.group._lock:
            self.group._waiting_since = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        with self.group._lock:
            self.group._waiting_since = None


def param_digest(model: nn.Module) -> str:
    """A short digest of the parameters' bytes: equal on every rank of a healthy job."""
    h = hashlib.sha256()
    for tensor in model.state_dict().values():
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class RanksDiverged(RuntimeError):
    """Ranks hold different parameters: the job's updates are no longer one model's."""


def join(world: World, device: torch.device, timeout_s: float) -> Local:
    """The job's collectives: a process group when there are several ranks, else Local.
    NodeRanksClash when the nodes of a job over several hosts were given clashing node
    ranks (checked first: such ranks could never form the group)."""
    if world.size == 1:
        return Local()
    check_node_ranks(os.environ, timeout_s)
    return ProcessGroup(world, device, timeout_s)


class NodeRanksClash(ValueError):
    """Two nodes of a job over several hosts were given the same node rank."""


def check_node_ranks(env: Mapping[str, str], timeout_s: float) -> None:
    """NodeRanksClash unless the job's nodes were given node ranks 0..nodes-1 once each.

    Ranks numbered by a duplicate node rank would claim the same rank of the process
    group and wait for each other forever, so each rank first posts its node's given
    node rank in torchrun's store (the one the process group is about to use, which
    every rank reaches once the rendezvous has formed) keyed by its torchrun rank
    (unique whatever was given), reads every rank's, and all reach the same verdict."""
    if NODE_RANK_ENV not in env or env.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return  # not a part of a job over several hosts, or not under torchrun's agent
    timeout = datetime.timedelta(seconds=timeout_s)
    client = TCPStore(env["MASTER_ADDR"], int(env["MASTER_PORT"]), None, False, timeout)
    store = PrefixStore("controlroom/node_rank/", client)
    store.set(env["RANK"], f"{env['GROUP_RANK']} {env[NODE_RANK_ENV]}")
    ranks = [str(r) for r in range(int(env["WORLD_SIZE"]))]
    store.wait(ranks, timeout)
    given = dict(store.get(rank).decode().split() for rank in ranks)  # torchrun node: given
    problem = node_rank_clash([int(v) for v in given.values()], len(given))
    if problem is not None:
        raise NodeRanksClash(problem)


def rank_device(world: World, device: torch.device) -> torch.device:
    """On CUDA each rank takes the device of its local rank (of those CUDA_VISIBLE_DEVICES
    leaves it); a CPU job's ranks share the CPU."""
    if world.size == 1 or device.type != "cuda":
        return device
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


def check_same(digests: list[str]) -> None:
    """RanksDiverged unless every rank's digest is the same."""
    if len(set(digests)) > 1:
        raise RanksDiverged(f"ranks hold different parameters: digests {digests}")
