"""One lock per game, re-entrant within a task: what makes a read-modify-write of one
game (a migrate's read settings -> stop -> restart, an add_game's merge -> guard ->
want) atomic against any other change to that game, while other games go on.

The lock order of the agent (daemon.py documents it) puts these last: a task may hold
the policy lock and then a game's lock, or the core op lock and then a game's lock,
never a game's lock and then wait for one of the other two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class GameLocks:
    """Per-game asyncio locks, created on first use and dropped when nobody holds or
    waits for them (so hostile names cannot grow the map)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._owner: dict[str, asyncio.Task[object] | None] = {}

    @asynccontextmanager
    async def hold(self, game: str) -> AsyncIterator[None]:
        """Hold `game`'s lock; a task that holds it already goes straight in (the
        agent's want_game inside a migrate that holds the game)."""
        task = asyncio.current_task()
        if task is not None and self._owner.get(game) is task:
            yield
            return
        lock = self._locks.setdefault(game, asyncio.Lock())
        self._users[game] = self._users.get(game, 0) + 1
        try:
            async with lock:
                self._owner[game] = task
                try:
                    yield
                finally:
                    self._owner.pop(game, None)
        finally:
            self._users[game] -= 1
            if not self._users[game]:
                del self._users[game], self._locks[game]

    def held(self, game: str) -> bool:
        """Whether some task holds `game`'s lock now."""
        lock = self._locks.get(game)
        return lock is not None and lock.locked()
