"""The laptop's link to host agents: SSH by alias, streamlocal or bridge, reconnects."""

from controlroom.link.errors import LinkError, RequestFailed
from controlroom.link.reconnect import (
    Backoff,
    Connected,
    Disconnected,
    HostLink,
    LinkEvent,
    RoundTrip,
    StateChanged,
)
from controlroom.link.session import AgentSession
from controlroom.link.ssh import SshTarget

__all__ = [
    "AgentSession",
    "Backoff",
    "Connected",
    "Disconnected",
    "HostLink",
    "LinkError",
    "LinkEvent",
    "RequestFailed",
    "RoundTrip",
    "SshTarget",
    "StateChanged",
]
