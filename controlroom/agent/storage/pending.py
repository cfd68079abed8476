"""The supervisor's writes to the store, kept in memory while the store refuses them.

A state transition happens in memory first and is then persisted. When SQLite fails (a
full disk, a read-only file; another process's lock is waited out by the store itself,
see Store.flush_owed), the columns and events wait here and
a later tick (every RETRY_S) writes them, newest values winning; the supervisor carries on from
memory meanwhile, so a trainer that died is still restarted. The failure is logged when
it starts, pushed live to clients, and recorded as an `error` event once writes work
again, so nobody has to guess why the history has a gap.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from controlroom import protocol
from controlroom.agent.storage.store import Store
from controlroom.protocol import JSONObject

log = logging.getLogger(__name__)

RETRY_S = 2.0  # while failing: each try may block for SQLite's busy timeout
MAX_EVENTS = 1000  # events owed past this: the oldest go, counted (game columns coalesce)

Event = tuple[float, str, str | None, str, JSONObject | None]


class PendingWrites:
    """Game columns and events owed to the store, written as soon as it takes them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.games: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.failing_since: float | None = None
        self.failures = 0
        self.error = ""
        self.next_try = 0.0
        self.dropped = 0

    def update_game(self, name: str, **columns: Any) -> None:
        """Set a game's columns now, or as soon as the store takes writes again."""
        self.games.setdefault(name, {}).update(columns)
        self._write_unless_failing()

    def add_event(
        self, kind: str, game: str | None, message: str, data: JSONObject | None = None
    ) -> None:
        """Append an event now, or later with the time it happened in its data."""
        self.events.append((time.time(), kind, game, message, data))
        if len(self.events) > MAX_EVENTS:  # a long outage must not grow memory without end
            del self.events[0]
            self.dropped += 1
        self._write_unless_failing()

    def flush(self) -> bool:
        """Try to write everything owed (each tick, every RETRY_S while failing);
        whether nothing is owed now."""
        if not self.games and not self.events and self.failing_since is None:
            return True
        if self.failing_since is not None and time.monotonic() < self.next_try:
            return False
        return self._write()

    def _write_unless_failing(self) -> None:
        # While failing, each try may block for the store's busy timeout: only the
        # tick's flush retries, not every transition.
        if self.failing_since is None:
            self._write()

    def _write(self) -> bool:
        try:
            self._write_games()
            self._write_events()
            if self.failing_since is not None:
                self._recovered()
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        return True

    def _write_games(self) -> None:
        while self.games:
            name, columns = next(iter(self.games.items()))
            self.store.update_game(name, **columns)
            del self.games[name]

    def _write_events(self) -> None:
        while self.events:
            at, kind, game, message, data = self.events.pop(0)
            late = time.time() - at
            if late > 1.0:  # written late: keep when it happened
                data = {**(data or {}), "happened_at": at}
            try:
                self.store.add_event(kind, game, message, data)
            except sqlite3.Error:
                self.events.insert(0, (at, kind, game, message, data))
                raise

    def _failed(self, exc: sqlite3.Error) -> None:
        self.failures += 1
        self.next_try = time.monotonic() + RETRY_S
        if self.failing_since is not None:
            return
        self.failing_since, self.error = time.time(), str(exc) or type(exc).__name__
        names = ", ".join(sorted(self.games)) or "events"
        message = (
            f"could not save {names} to the store ({self.error}); carrying on from "
            f"memory and retrying every {RETRY_S:.0f}s"
        )
        log.error("%s", message)
        self._push_live("error", None, message, {"error": self.error})

    def _recovered(self) -> None:
        assert self.failing_since is not None
        down = time.time() - self.failing_since
        data = {
            "error": self.error,
            "down_s": round(down, 1),
            "failed_writes": self.failures,
            "dropped_events": self.dropped,
        }
        lost = f" ({self.dropped} oldest events dropped past {MAX_EVENTS})" if self.dropped else ""
        message = (
            f"the store refused writes for {down:.1f}s ({self.error}); what happened "
            f"meanwhile was kept in memory and is saved now{lost}"
        )
        self.failing_since, self.failures, self.dropped = None, 0, 0
        log.warning("%s", message)
        self.events.append((time.time(), "error", None, message, data))
        self._write_events()

    def _push_live(self, kind: str, game: str | None, message: str, data: JSONObject) -> None:
        """Tell connected clients now, without the store (it refuses writes)."""
        if self.store.on_event is not None:
            self.store.on_event(
                protocol.Event(ts=time.time(), kind=kind, game=game, message=message, data=data)
            )
