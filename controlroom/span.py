"""A game's job spanning several hosts: the four settings that say so, and their rules.

`nodes = 2` runs one game as one torchrun job over two hosts of the fleet; each host's
agent runs its part (the game's `gpus` ranks) with torchrun's c10d rendezvous. Every
host of the job names the same `rendezvous` ("ADDR:PORT": node 0's address, where its
torchrun hosts the rendezvous store) and the same `job_id` (torchrun's rendezvous id), and
its own `node_rank` (0 hosts the store and holds the checkpoints). `nodes = 1`, the
default, is a job on this host alone (`--standalone`). The rules are written once here:
config.toml, a client's settings and the store's copy are all checked by these functions,
and the trainer numbers its ranks by `node_ranks`.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_NODES",
    "NODE_RANK_ENV",
    "SPAN_KEYS",
    "Span",
    "describe",
    "job_id_problem",
    "node_rank_clash",
    "node_ranks",
    "rendezvous_problem",
    "split_endpoint",
]

SPAN_KEYS = ("nodes", "node_rank", "rendezvous", "job_id")
MAX_NODES = 64  # more hosts than one user's fleet; a typo stops here, not at torchrun
# What the agent sets in a spanning job's environment, read by the trainer (world.py):
# torchrun's c10d rendezvous numbers nodes by address, not by the node rank given.
NODE_RANK_ENV = "CONTROLROOM_NODE_RANK"
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")


def split_endpoint(value: str) -> tuple[str, int]:
    """("10.0.0.5", 29400) of "10.0.0.5:29400" ("[fd00::5]:29400" for IPv6); ValueError
    with the problem otherwise."""
    host, colon, port = value.rpartition(":")
    if not colon or not host:
        raise ValueError(f"is {value!r:.80}; must be ADDR:PORT, e.g. 10.0.0.5:29400")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port!r:.20} must be a number 1..65535")
    return host, int(port)


def rendezvous_problem(value: str) -> str | None:
    """Why `value` is not a rendezvous address ("" = none, a single-host job), or None."""
    if value == "":
        return None
    try:
        host, _ = split_endpoint(value)
    except ValueError as exc:
        return str(exc)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _HOSTNAME.fullmatch(host) and len(host) <= 253:
            return None
        return f"address {host!r:.80} is neither an IP address nor a host name"
    if address.is_unspecified:
        return f"address {host} names no host; name node 0's address the others reach"
    return None


def job_id_problem(value: str) -> str | None:
    """Why `value` is not a job id ("" = none, a single-host job), or None."""
    if value == "" or _JOB_ID.fullmatch(value):
        return None
    return f"is {value!r:.80}; letters, digits, '_', '.', '-' (at most 64, a letter or digit first)"


def node_ranks(node_rank: int, per_node: int) -> range:
    """The job's ranks on node `node_rank` when every node runs `per_node` ranks: node 0
    holds ranks 0..per_node-1, so the job's rank 0 (checkpoints, metrics) is on node 0."""
    return range(node_rank * per_node, (node_rank + 1) * per_node)


def node_rank_clash(given: Sequence[int], nodes: int) -> str | None:
    """Why the node ranks the job's nodes were given (one per node, as the ranks report
    them when they meet) do not number its `nodes` nodes 0..nodes-1 once each, or None.
    Two hosts given one node rank would both number their ranks alike and wait on each
    other forever: the job refuses instead, naming the duplicate."""
    counts = Counter(given)
    twice = sorted(rank for rank, n in counts.items() if n > 1)
    if twice:
        missing = [rank for rank in range(nodes) if rank not in counts]
        lacking = f"; node_rank {', '.join(map(str, missing))} is on none" if missing else ""
        return (
            f"node_rank {twice[0]} is given to {counts[twice[0]]} nodes of a job of {nodes} "
            f"nodes{lacking}: give each node its own node_rank, 0..{nodes - 1}"
        )
    return None


@dataclass(frozen=True)
class Span:
    """Where a game's job runs beyond this host: nothing more when `nodes` is 1."""

    nodes: int = 1
    node_rank: int = 0
    rendezvous: str = ""
    job_id: str = ""

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Span:
        """A game's span from its settings (one stored before the settings existed: 1)."""
        return cls(
            int(settings.get("nodes", 1)),
            int(settings.get("node_rank", 0)),
            str(settings.get("rendezvous", "")),
            str(settings.get("job_id", "")),
        )

    @property
    def spans(self) -> bool:
        """Whether the job spans hosts."""
        return self.nodes > 1

    @property
    def hosts_store(self) -> bool:
        """Node 0's torchrun hosts the rendezvous store (and its rank 0 the checkpoints)."""
        return self.node_rank == 0

    def problem(self) -> tuple[str, str] | None:
        """(key, problem) when the four settings do not make one span, else None."""
        if self.node_rank >= self.nodes:
            return "node_rank", f"is {self.node_rank}; must be < nodes ({self.nodes})"
        if not self.spans:
            return None
        if not self.rendezvous:
            return "rendezvous", "must name node 0's ADDR:PORT for a job of several nodes"
        if not self.job_id:
            return "job_id", "must name the job (the same on every node) for a job of several nodes"
        return None

    def text(self, per_node: int) -> str:
        """The span in words: "job 2 nodes · node 1/2 · ranks 2-3"."""
        return describe(self.nodes, self.node_rank, node_ranks(self.node_rank, per_node))


def describe(nodes: int, node_rank: int, ranks: Sequence[int]) -> str:
    """A host's part of a job in words: "job 2 nodes · node 1/2 · ranks 2-3" (node ranks
    count from 0, as torchrun's and the settings' do)."""
    if not ranks:
        shown = "no ranks"
    elif len(ranks) == 1:
        shown = f"rank {ranks[0]}"
    else:
        shown = f"ranks {min(ranks)}-{max(ranks)}"
    return f"job {nodes} nodes · node {node_rank}/{nodes} · {shown}"
