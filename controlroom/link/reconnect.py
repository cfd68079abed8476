"""HostLink: keep a session to one agent alive, reconnecting with capped backoff.

It reports what happens as plain LinkEvents through a callback, so the TUI can turn them
into messages without the link knowing about Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from controlroom import protocol
from controlroom.link.errors import LOST, LinkError
from controlroom.link.session import AgentSession

Opener = Callable[[], Awaitable[AgentSession]]


@dataclass
class Connected:
    """A session is up; `state` is the agent's fresh snapshot (it includes what we missed)."""

    hello: protocol.Hello
    state: protocol.State
    where: str


@dataclass
class StateChanged:
    """The State moved on (an update or an event was applied)."""

    state: protocol.State
    event: protocol.Event | None = None


@dataclass
class Disconnected:
    """No session: since when, why, and when the next try is."""

    since: float
    reason: str
    kind: str
    attempt: int
    retry_in: float


@dataclass
class RoundTrip:
    """A ping's round-trip time, seconds."""

    rtt: float


LinkEvent = Connected | StateChanged | Disconnected | RoundTrip


@dataclass
class Backoff:
    """Capped exponential backoff: initial, x2 each failure, at most `cap`."""

    initial: float = 0.5
    cap: float = 15.0
    failures: int = field(default=0)

    def next_delay(self) -> float:
        delay = float(min(self.cap, self.initial * (2**self.failures)))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class HostLink:
    """One host's link: `run()` forever, `request()` while connected."""

    def __init__(
        self,
        name: str,
        opener: Opener,
        emit: Callable[[LinkEvent], None],
        *,
        backoff: Backoff | None = None,
        ping_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args: name: the host's name; opener: makes a started AgentSession;
        emit: receives every LinkEvent; ping_interval: seconds between RTT pings."""
        self.name, self._open, self._emit = name, opener, emit
        self.backoff = backoff or Backoff()
        self.ping_interval, self._clock = ping_interval, clock
        self.session: AgentSession | None = None
        self.down_since: float | None = None
        self.last_error: LinkError | None = None
        self._wake = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.session is not None and not self.session.closed

    async def run(self) -> None:
        """Connect, follow, and on any loss retry after a capped backoff; never returns."""
        while True:
            # A retry asked for before this try began is served by it; one asked for from
            # here on (while opening, serving or dropping) must cut the wait after it.
            self._wake.clear()
            try:
                await self._serve_once()
            except LinkError as exc:
                self.last_error = exc
            finally:
                await self._drop_session()
            await self._wait_before_retry()

    async def request(self, op: str, **args: Any) -> Any:
        """Send an op on the live session; LinkError when the link is down."""
        if self.session is None or self.session.closed:
            since = self.down_since or self._clock()
            raise LinkError(LOST, f"{self.name}: link down for {self._clock() - since:.0f}s")
        return await self.session.request(op, **args)

    async def close(self) -> None:
        await self._drop_session()

    def retry_now(self) -> None:
        """Cut the wait before the next try short (the agent was just installed): during a
        wait, the next try starts at once; during a try, the one after it does."""
        self.backoff.reset()
        self._wake.set()

    async def _serve_once(self) -> None:
        self.session = await self._open()
        self.down_since, self.last_error = None, None
        self.backoff.reset()
        session = self.session
        self._emit(Connected(session.hello, session.state, session.where))
        pinger = asyncio.create_task(self._ping_loop(session))
        try:
            async for msg in session.messages():
                event = msg.event if isinstance(msg, protocol.EventMessage) else None
                self._emit(StateChanged(session.state, event))
        finally:
            pinger.cancel()

    async def _ping_loop(self, session: AgentSession) -> None:
        with contextlib.suppress(LinkError):
            while not session.closed:
                self._emit(RoundTrip(await session.ping()))
                await asyncio.sleep(self.ping_interval)

    async def _drop_session(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def _wait_before_retry(self) -> None:
        if self.down_since is None:
            self.down_since = self._clock()
        delay = self.backoff.next_delay()
        if self._wake.is_set():  # a retry was asked for during this try: no wait at all
            delay = 0.0
        err = self.last_error or LinkError(LOST, "the link closed")
        self._emit(
            Disconnected(self.down_since, err.message, err.kind, self.backoff.failures, delay)
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
