"""The network side of a job over several hosts: which of this host's addresses and
interfaces its part uses, and whether node 0 answers before a part starts.

torchrun's c10d rendezvous store listens on every interface of node 0 at the named port
(torch's TCPStore binds the wildcard address; no option narrows it), and the store the
ranks share and gloo's pair sockets take ephemeral ports. What can be set is which
address this node is known by and which interface its ranks talk on: the one this host
reaches node 0's named address through (the kernel's route to it), so a job named on a
private network stays on it. docs/multi-gpu.md says what this leaves open.

Before each start of a part the agent looks node 0's address up and, on a node other
than 0, knocks on its rendezvous port (`probe`), off the event loop and within
PROBE_TIMEOUT_S: a name that does not resolve, or no node 0 listening, is said within
seconds and the part waits for it, instead of torchrun trying for ~90 s and the part
crash-looping. A name is looked up only there (the event loop's getaddrinfo, in a
thread): everything else here takes numeric addresses only.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import psutil

from controlroom.span import NODE_RANK_ENV, Span, split_endpoint

PROBE_TIMEOUT_S = 3.0  # a DNS answer or node 0's SYN-ACK takes far less on a fleet's LAN


@dataclass(frozen=True)
class Reach:
    """What a part's start needs from the network: this host's address on the route to
    node 0 (None: torchrun picks), or why the part cannot start yet (`waiting`: what it
    waits for, "node 0 at 10.0.0.5:29400"; `problem`: what is wrong now)."""

    local_addr: str | None = None
    waiting: str | None = None
    problem: str | None = None


async def probe(span: Span, timeout_s: float = PROBE_TIMEOUT_S) -> Reach:
    """Whether this host's part of `span` can start now: node 0's address resolves
    (looked up in a thread, never on the loop) and, unless this is node 0 (whose torchrun
    opens the store), something listens at the rendezvous port."""
    host, port = split_endpoint(span.rendezvous)
    waiting = f"node 0 at {span.rendezvous}"
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
        )
    except TimeoutError:
        return Reach(None, waiting, f"looking up {host} took over {timeout_s:g}s (DNS)")
    except OSError as exc:
        return Reach(None, waiting, f"{host} does not resolve ({exc}): check the rendezvous")
    family, _, _, _, where = found[0]
    local = _route_to(family, where)
    if span.hosts_store:
        return Reach(local)
    problem = await _knock(str(where[0]), port, timeout_s)
    return Reach(local) if problem is None else Reach(local, waiting, problem)


async def _knock(address: str, port: int, timeout_s: float) -> str | None:
    """Why nothing answers at address:port (a TCP connect, closed at once), or None."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout_s)
    except TimeoutError:
        return f"no answer within {timeout_s:g}s; {_START_NODE_0}"
    except OSError as exc:
        return f"nothing listens there ({exc.strerror or exc}); {_START_NODE_0}"
    writer.close()
    return None


_START_NODE_0 = "start the game on its node 0 (node_rank 0), or check the address and firewall"


def _route_to(family: int, where: tuple[object, ...]) -> str | None:
    """This host's address on its route to `where` (a UDP connect picks the route and
    sends nothing), or None."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(where)
            return str(s.getsockname()[0])
    except OSError:
        return None


def local_address(span: Span) -> str | None:
    """This host's address on the route to node 0's rendezvous address when that is a
    numeric address (no DNS here: a name is looked up by `probe`, off the loop), else
    None: torchrun then picks, and says what failed in trainer.log."""
    host, port = split_endpoint(span.rendezvous)
    try:
        family, _, _, _, where = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )[0]
    except OSError:
        return None
    return _route_to(family, where)


def interface_of(address: str) -> str | None:
    """The network interface holding `address`, or None."""
    for name, addresses in psutil.net_if_addrs().items():
        if any(a.address.split("%")[0] == address for a in addresses):
            return name
    return None


def job_env(span: Span, address: str | None = None) -> dict[str, str]:
    """A part's environment: its node rank (the trainer numbers its ranks by it), and
    gloo's and NCCL's interface, the one holding `address` (this host's on the route to
    node 0; by default found from a numeric rendezvous address)."""
    env = {NODE_RANK_ENV: str(span.node_rank)}
    address = address or local_address(span)
    interface = interface_of(address) if address else None
    if interface is not None:
        env |= {"GLOO_SOCKET_IFNAME": interface, "NCCL_SOCKET_IFNAME": interface}
    return env


class Probes:
    """One `probe` in flight per game, started by the supervisor's synchronous pass and
    read by a later one: the loop never waits on the network."""

    def __init__(self, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._tasks: dict[str, tuple[Span, asyncio.Task[Reach]]] = {}

    def take(self, game: str, span: Span) -> Reach | None:
        """The finished probe of `game`'s part of `span` (handed out once: each start
        probes afresh), or None while it runs (started now when none is, or when the
        span changed since)."""
        held = self._tasks.get(game)
        if held is not None and held[0] != span:
            held[1].cancel()
            held = None
        if held is None:
            task = asyncio.get_running_loop().create_task(probe(span, self.timeout_s))
            self._tasks[game] = (span, task)
            return None
        if not held[1].done():
            return None
        del self._tasks[game]
        return held[1].result()

    def forget(self, game: str) -> None:
        """Drop a game's probe (it is stopped or gone)."""
        held = self._tasks.pop(game, None)
        if held is not None:
            held[1].cancel()
