"""The network side of a job over several hosts: which of this host's addresses and
interfaces its part uses.

torchrun's c10d rendezvous store listens on every interface of node 0 at the named port
(torch's TCPStore binds the wildcard address; no option narrows it), and the store the
ranks share and gloo's pair sockets take ephemeral ports. What can be set is which
address this node is known by and which interface its ranks talk on: the one this host
reaches node 0's named address through (the kernel's route to it), so a job named on a
private network stays on it. docs/multi-gpu.md says what this leaves open.
"""

from __future__ import annotations

import socket

import psutil

from controlroom.span import NODE_RANK_ENV, Span, split_endpoint


def local_address(span: Span) -> str | None:
    """This host's address on the route to node 0's rendezvous address (node 0's own
    address on node 0), or None when it cannot be found (no route, a name that does not
    resolve): torchrun then says what failed, in trainer.log."""
    host, port = split_endpoint(span.rendezvous)
    try:
        family, kind, proto, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.connect(where)  # UDP: picks the route, sends nothing
            return str(probe.getsockname()[0])
    except OSError:
        return None


def interface_of(address: str) -> str | None:
    """The network interface holding `address`, or None."""
    for name, addresses in psutil.net_if_addrs().items():
        if any(a.address.split("%")[0] == address for a in addresses):
            return name
    return None


def job_env(span: Span) -> dict[str, str]:
    """A part's environment: its node rank (the trainer numbers its ranks by it), and
    gloo's and NCCL's interface, the one that reaches node 0's address."""
    env = {NODE_RANK_ENV: str(span.node_rank)}
    address = local_address(span)
    interface = interface_of(address) if address else None
    if interface is not None:
        env |= {"GLOO_SOCKET_IFNAME": interface, "NCCL_SOCKET_IFNAME": interface}
    return env
