"""Each trainer's share of the host's cores: its torch and envpool thread counts.

Left alone, every trainer's torch takes a thread per core and so does its envpool: three
games on two cores are twelve busy threads spinning on two cores (the log's 365
processes on one box is this). The agent divides the cores among the trainer processes
it runs (a job's ranks each count) and hands each its share when it starts, unless the
game's settings name a count (an explicit setting always wins).

Why one share for both libraries: a PPO trainer steps its envs (envpool's threads work,
torch waits) then runs its network (torch works, envpool waits), so the two pools take
turns on the same cores rather than competing.

A change in the number of games is not forced onto running trainers: each takes the new
share at its next start (a restart, a migration, a reboot's resume), since restarting a
trainer costs its warm-up and a checkpoint round trip for a few percent of speed. A
reboot resumes every game at once, each with the share of all of them.
"""

from __future__ import annotations

import os

from controlroom.config import Settings
from controlroom.gpus import world_size
from controlroom.protocol import Threads
from controlroom.threadenv import AUTO_THREADS_ENV

__all__ = ["adopted_threads", "host_cores", "processes", "share", "thread_env", "threads_for"]


def host_cores() -> int:
    """The cores this agent (and so its trainers) may run on: its CPU affinity, which a
    container's or taskset's limit narrows, not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def share(cores: int, trainers: int) -> int:
    """Threads for each of `trainers` trainer processes on `cores` cores: an even whole
    share, never below one (more trainers than cores: one thread each)."""
    return max(1, cores // max(1, trainers))


def threads_for(settings: Settings, cores: int, trainers: int) -> Threads:
    """The thread counts of one trainer process of a game with `settings` among
    `trainers` processes on `cores` cores: its settings' own counts where given (not
    0), else the share; envpool's never above the game's num_envs (it uses no more)."""
    each = share(cores, trainers)
    torch = int(settings.get("torch_threads") or 0)
    envpool = int(settings.get("envpool_threads") or 0)
    envs = max(1, int(settings.get("num_envs") or 1))
    return Threads(
        torch=torch or each,
        envpool=min(envpool or each, envs),
        auto=not (torch and envpool),
        cores=cores,
        trainers=max(1, trainers),
    )


def processes(settings: Settings) -> int:
    """How many trainer processes a game runs on this host: its job's ranks."""
    return world_size(settings) if not settings.get("command") else 1


def thread_env(t: Threads) -> dict[str, str]:
    """What a trainer's environment gets so that a setting left at 0 takes its share
    (the trainer reads these only for a setting of 0)."""
    return {
        AUTO_THREADS_ENV["torch_threads"]: str(t.torch),
        AUTO_THREADS_ENV["envpool_threads"]: str(t.envpool),
    }


def adopted_threads(env: dict[str, str], settings: Settings, cores: int) -> Threads | None:
    """The threads of a trainer this agent adopted (after its own restart), from that
    process's environment and the game's settings; None when it got no share from an
    agent (started by hand, or before shares existed), so nothing is guessed."""
    given = [env.get(AUTO_THREADS_ENV[k], "") for k in ("torch_threads", "envpool_threads")]
    if not all(v.isdigit() for v in given):
        return None
    torch = int(settings.get("torch_threads") or 0) or int(given[0])
    envpool = int(settings.get("envpool_threads") or 0) or int(given[1])
    envs = max(1, int(settings.get("num_envs") or 1))
    explicit = settings.get("torch_threads") and settings.get("envpool_threads")
    # How many trainers the share was divided among is not in the environment: 0, unknown.
    return Threads(
        torch=torch, envpool=min(envpool, envs), auto=not explicit, cores=cores, trainers=0
    )
