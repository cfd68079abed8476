"""A game of several GPUs (`gpus = N`, or N pinned) is one torchrun job of N ranks.

The agent starts torchrun as a module of its own interpreter (no shell, no `torchrun`
script to find on PATH) and supervises it as it does a single trainer: torchrun leads the
job's process group, so the agent's signals reach it; it hands a SIGTERM on to every rank
(the ranks agree to stop and rank 0 writes the last checkpoint), and when one rank dies it
ends the others and exits non-zero (`--max-restarts 0`: restarting is the agent's job,
with its backoff and crash-loop rules). The ranks start in sessions of their own, so each
asks the kernel to kill it when torchrun dies (trainer/runtime.die_with_parent): a job
SIGKILLed for a hang leaves no rank behind. Heartbeats come from rank 0, which holds them
back while it waits for another rank: a hung rank is a hung job.

`--standalone` keeps the rendezvous on this host (an ephemeral port torchrun picks). A
job over several hosts (controlroom/span.py) is one torchrun per host joined by the c10d
rendezvous at node 0's named address, node 0's torchrun hosting its store; each agent
supervises its own part as above (docs/multi-gpu.md, "One game over several hosts").
"""

from __future__ import annotations

import math
import re
import sys

import psutil

from controlroom.config import AgentConfig
from controlroom.span import Span

TRAINER_MODULE = "controlroom.trainer"
# What torchrun needs, after its ranks' grace, to SIGKILL them, reap them and exit.
TORCHRUN_EXIT_S = 2.0


def rank_grace_s(stop_grace_s: float) -> int:
    """torchrun's `--shutdown-timeout`: how long it waits, after handing a SIGTERM on to
    its ranks, before it SIGKILLs them. Strictly below the agent's `stop_grace_s` (after
    which the agent SIGKILLs torchrun itself), by a fifth of it and at least
    TORCHRUN_EXIT_S, so that torchrun, not the agent's SIGKILL, ends a slow rank and
    reports how its ranks exited. torchrun takes whole seconds; 0 for a grace under
    TORCHRUN_EXIT_S (the ranks are killed at once: the agent gives no more)."""
    return max(0, math.floor(stop_grace_s - max(TORCHRUN_EXIT_S, stop_grace_s / 5)))


def torchrun_argv(
    ranks: int,
    trainer_args: list[str],
    span: Span | None = None,
    local_addr: str | None = None,
    *,
    stop_grace_s: float = AgentConfig.stop_grace_s,
) -> list[str]:
    """The command line of a job of `ranks` ranks on this host, each running the built-in
    trainer with `trainer_args` (its flags, after `-m controlroom.trainer`): alone on
    this host, or this host's part of a job over several (`span`, known to the others
    by `local_addr`). torchrun gives its ranks less time to stop than the agent's
    `stop_grace_s` gives it (rank_grace_s)."""
    where = rendezvous_args(span, local_addr) if span is not None and span.spans else []
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *(where or ["--standalone"]),
        "--nproc-per-node",
        str(ranks),
        "--max-restarts",
        "0",
        "--shutdown-timeout",
        str(rank_grace_s(stop_grace_s)),
        "-m",
        TRAINER_MODULE,
        *trainer_args,
    ]


def rendezvous_args(span: Span, local_addr: str | None) -> list[str]:
    """torchrun's c10d rendezvous for one host's part of a job over several: node 0's
    torchrun hosts the store at the named address (is_host: not guessed from host names),
    the others join it; `--local-addr` is the address the others reach this host at."""
    hosts = "true" if span.hosts_store else "false"
    return [
        "--nnodes",
        str(span.nodes),
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        span.rendezvous,
        "--rdzv-id",
        span.job_id,
        "--rdzv-conf",
        f"is_host={hosts}",
        *(["--local-addr", local_addr] if local_addr else []),
    ]


def job_pids(pid: int) -> list[int]:
    """The process and everything it started (torchrun and its ranks): whose GPU memory
    is the game's. Just [pid] for a single trainer, or when it is gone."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return [pid]
    return [pid, *(child.pid for child in children)]


# torchrun's failure report names each failed rank's exit code on a line of its own.
_RANK_EXIT_2 = re.compile(r"^\s*exitcode\s*:\s*2\b", re.MULTILINE)
REFUSAL_PREFIX = "controlroom.trainer: error:"  # the trainer's one-line refusal


# Each rank says so once its process group is up (trainer/distributed.py): the job formed.
_JOINED = re.compile(r"rank \d+ of \d+ joined the job")


def job_joined(log_tail: str) -> bool:
    """Whether a job's ranks on this host joined the job, read from trainer.log: a part
    of a job over several hosts whose rank 0 (metrics, checkpoints) is elsewhere has no
    other sign of the job having formed."""
    return _JOINED.search(log_tail) is not None


# Each rank's last line of a clean run (trainer/cli.py): "... INFO exit: signal".
_EXIT = re.compile(r" INFO exit: (\w+)\s*$", re.MULTILINE)


def rank_exit_reason(log_tail: str) -> str | None:
    """The reason a job's ranks on this host gave for ending ("signal", "budget"), read
    from trainer.log, or None when they gave none."""
    found = _EXIT.findall(log_tail)
    return str(found[-1]) if found else None


def rank_refusal(log_tail: str) -> str | None:
    """The refusal of a job's rank that exited 2 (bad settings: not worth a restart), read
    from trainer.log: torchrun itself exits 1 for any failed rank. None when no rank
    exited 2."""
    if not _RANK_EXIT_2.search(log_tail):
        return None
    refusals = [x.strip() for x in log_tail.splitlines() if x.startswith(REFUSAL_PREFIX)]
    return refusals[-1] if refusals else "a rank exited 2"
