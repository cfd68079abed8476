"""The retry key cuts the link's wait wherever in its cycle it is pressed: while the link
waits, while a try is under way, or as a failure is being reported. The opener refuses
every try, as a host with no listening agent does; the backoff is 60 s, so a second try
within seconds can only come from `retry_now`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from controlroom.link.errors import LinkError
from controlroom.link.reconnect import Backoff, Disconnected, HostLink, LinkEvent
from controlroom.link.session import AgentSession
from tests.link.realagent import wait_for

WAITING, TRYING, REPORTING = "while it waits", "while a try is under way", "as it reports"


class RefusedLink:
    """A HostLink (60 s backoff) whose opener refuses every try; `retry_at` says where in
    the first cycle retry_now is pressed by the link's own parts (TRYING, REPORTING)."""

    def __init__(self, retry_at: str = WAITING) -> None:
        self.tries = 0
        self.seen: list[Disconnected] = []
        self.retry_at = retry_at
        self.link = HostLink("tnr-0", self._refused, self._emit, backoff=Backoff(60.0, 60.0))

    async def _refused(self) -> AgentSession:
        self.tries += 1
        if self.tries == 1 and self.retry_at == TRYING:
            await asyncio.sleep(0)  # the try is under way: the link awaits its opener
            self.link.retry_now()
        raise LinkError("refused", "tnr-0 refused the connection")

    def _emit(self, ev: LinkEvent) -> None:
        if isinstance(ev, Disconnected):
            self.seen.append(ev)
            if len(self.seen) == 1 and self.retry_at == REPORTING:
                self.link.retry_now()  # after the failure, before the wait begins


@contextlib.asynccontextmanager
async def running(link: HostLink) -> AsyncIterator[None]:
    task = asyncio.create_task(link.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("point", [WAITING, TRYING, REPORTING])
async def test_retry_now_at_any_point_of_the_cycle_starts_the_next_try_at_once(
    point: str,
) -> None:
    r = RefusedLink(point)
    async with running(r.link):
        if point == WAITING:  # the link is parked in its 60 s wait once it has reported
            await wait_for(lambda: len(r.seen) == 1, what="the first failure reported")
            r.link.retry_now()
        await wait_for(lambda: r.tries >= 2, timeout=5, what="a second try at once, not in 60 s")
        # pressed during the try, the failure it ends in already says: no wait
        assert r.seen[0].retry_in == (0.0 if point == TRYING else 60.0)


async def test_a_retry_asked_before_a_try_is_served_by_it_and_the_next_wait_is_full() -> None:
    r = RefusedLink()
    r.link.retry_now()
    async with running(r.link):
        await wait_for(lambda: len(r.seen) == 1, what="the first failure reported")
        assert r.tries == 1 and r.seen[0].retry_in == 60.0
