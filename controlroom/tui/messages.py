"""Messages the link's events become; telemetry ones collapse to the newest."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from controlroom import protocol


@dataclass
class LinkUp(Message):
    """A host's session is up with a fresh snapshot."""

    host: str
    hello: protocol.Hello
    state: protocol.State
    where: str


@dataclass
class LinkDown(Message):
    """A host's link is down: since when, why, next try."""

    host: str
    since: float
    reason: str
    kind: str
    attempt: int
    retry_in: float


@dataclass
class StateUpdated(Message):
    """A host's State moved on; a burst collapses to the newest."""

    host: str
    state: protocol.State

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateUpdated) and message.host == self.host


@dataclass
class AgentEvent(Message):
    """Something happened on a host (crash, reboot, ramp step...)."""

    host: str
    event: protocol.Event


@dataclass
class RttMeasured(Message):
    """A ping's round trip to a host's agent, seconds."""

    host: str
    rtt: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RttMeasured) and message.host == self.host


@dataclass
class HostSummary(Message):
    """One host's line for the fleet overview."""

    host: str
    link: str
    gpu: str
    games: str
    reboots: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostSummary) and message.host == self.host


@dataclass
class AgentMissing(Message):
    """A host answers SSH but has no agent: the app offers to install one."""

    host: str
    reason: str
