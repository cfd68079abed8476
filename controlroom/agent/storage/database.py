"""The store's SQLite file: its schema, busy timeouts, and writes owed while another
process holds the lock.

One connection (WAL). With `loop_safe` (the agent), a write that finds the file locked by
another process (the CLI, a reader with a long transaction) waits at most
LOOP_BUSY_TIMEOUT_S, then is owed: kept in memory, bounded (owed.py), and written by the
next write or `flush_owed()` (each supervise tick) once the lock clears. Without it (a
one-shot CLI), a write waits BLOCKING_BUSY_TIMEOUT_S and raises. The tables' reads and
writes are store.py's.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.agent.storage.owed import Owed, Row, Write, row_write
from controlroom.protocol import JSONObject

log = logging.getLogger(__name__)

EventSink = Callable[[protocol.Event], None]

# How long a one-shot process (the CLI, a migration at start) waits for another
# process's lock before SQLite says "database is locked".
BLOCKING_BUSY_TIMEOUT_S = 5.0
# How long the agent's event loop may wait for a lock on one write: its writes run on
# the loop, so anything longer stalls every client's reply (see Database._execute_write).
LOOP_BUSY_TIMEOUT_S = 0.05

# Each entry migrates the schema from version i to i+1; never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE games (
        name TEXT PRIMARY KEY, wanted INTEGER NOT NULL, settings TEXT NOT NULL,
        added_at REAL NOT NULL, paused INTEGER NOT NULL DEFAULT 0,
        pid INTEGER, pid_create_time REAL, cmdline TEXT, started_at REAL,
        restarts INTEGER NOT NULL DEFAULT 0, last_exit TEXT, state TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE boots (
        boot_id TEXT PRIMARY KEY, boot_time REAL NOT NULL, first_seen REAL NOT NULL,
        last_heartbeat REAL NOT NULL, load TEXT NOT NULL DEFAULT '{}',
        prev_boot_id TEXT, uptime_before_s REAL, downtime_before_s REAL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, kind TEXT NOT NULL,
        game TEXT, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_ts ON events(ts);
    CREATE TABLE samples (ts REAL PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # The GPUs a game was placed on (a JSON list), kept so that a restart or a reboot
    # puts it back on the same GPUs when they are free.
    "ALTER TABLE games ADD COLUMN gpus TEXT NOT NULL DEFAULT '[]'",
]


RowChange = Callable[[Row], Row]  # what a write does to a game's row


class Database:
    """The connection, its schema migrated, and the writes owed while it is locked."""

    def __init__(self, path: Path, *, loop_safe: bool = False) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL under WAL loses at most the last commits on power loss, never corrupts.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._set_busy_timeout(BLOCKING_BUSY_TIMEOUT_S)  # the start may wait: no client yet
        self._migrate()
        self.on_event: EventSink | None = None
        self._owed = Owed()
        self._owed_since: float | None = None
        self._owed_count = 0
        self._owed_what: set[str] = set()
        self._last_rowcount = 0
        self._lock_error = ""
        self.loop_safe = loop_safe

    def serve_loop(self) -> None:
        """From now on wait LOOP_BUSY_TIMEOUT_S at most for a lock (loop_safe only)."""
        if self.loop_safe:
            self._set_busy_timeout(LOOP_BUSY_TIMEOUT_S)

    def _set_busy_timeout(self, seconds: float) -> None:
        self.db.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    # ---- writes -------------------------------------------------------------------
    # Why owed writes and not a writer thread: the agent's writes are tiny and its
    # state lives in memory, so only the wait for another process's lock hurts. A queue
    # on the one connection keeps every write in order (a thread would need its own
    # connection and ordering between the two) and lets the loop wait 50 ms at most.
    def _execute_write(
        self,
        sql: str,
        params: tuple[Any, ...],
        what: str,
        *,
        key: str | None = None,
        droppable: bool = False,
    ) -> int:
        """Run one write, or owe it while the database is locked (loop_safe); the rows
        it changed (0 when owed). `key` and `droppable` say how it is owed (owed.py)."""
        if not self.loop_safe:
            return self.db.execute(sql, params).rowcount
        write = Write(sql, params, what, key, droppable)
        self._owed.add(write)
        try:
            written = self.flush_owed()
        except sqlite3.Error:
            if self._owed.writes and self._owed.writes[-1] is write:  # the caller keeps it
                self._owed.writes.pop()
            raise
        if not written:
            self._now_owing(what)
        return self._last_rowcount if written else 0

    def _game_write(self, name: str, sql: str, params: tuple[Any, ...], change: RowChange) -> None:
        """A write to a game's row, or, while the database is locked, a change to the
        image of the row it owes (one per game, the newest state: owed.py)."""
        if not self.loop_safe:
            self.db.execute(sql, params)
            return
        if name not in self._owed.rows and self.flush_owed():
            try:
                self.db.execute(sql, params)
                return
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
                self._lock_error = str(exc)
        self._owed.rows[name] = change(self._row_image(name))
        self._now_owing(name)

    def _row_image(self, name: str) -> Row:
        """The game's row as owed, else as stored (a WAL reader is never locked out)."""
        if name in self._owed.rows:
            return self._owed.rows[name]
        found = self.db.execute("SELECT * FROM games WHERE name=?", (name,)).fetchone()
        return None if found is None else dict(found)

    def owed(self) -> int:
        """How many writes wait for a lock to clear (a game's row counts once)."""
        return len(self._owed)

    def flush_owed(self) -> bool:
        """Write what is owed, oldest first and then the game rows, until the lock is
        met again; whether nothing is owed now. A write SQLite refuses for another
        reason than a lock raises here (its caller, PendingWrites, keeps it) and is
        not kept."""
        self._last_rowcount = 0
        owed = self._owed
        while owed.writes or owed.rows:
            name = None if owed.writes else next(iter(owed.rows))
            sql, params, *_ = owed.writes[0] if name is None else row_write(name, owed.rows[name])
            try:
                self._last_rowcount = self.db.execute(sql, params).rowcount
            except sqlite3.OperationalError as exc:
                if _locked(exc):
                    self._lock_error = str(exc)
                    return False
                self._done(name)
                raise
            self._done(name)
        if self._owed_since is not None:
            self._lock_cleared()
        return True

    def _done(self, row: str | None) -> None:
        if row is None:
            self._owed.writes.popleft()
        else:
            del self._owed.rows[row]

    def _now_owing(self, what: str) -> None:
        self._owed_count += 1
        if what in self._owed_what:  # each thing said once per outage
            return
        self._owed_what.add(what)
        message = (
            f"could not save {what} to the store ({self._lock_error}): another process holds its "
            "lock; kept in memory, written when the lock clears"
        )
        log.error("%s", message)
        if self._owed_since is not None:
            return
        self._owed_since = time.time()
        if self.on_event is not None:  # told live: the store cannot take it now
            event = protocol.Event(
                ts=time.time(), kind="error", game=None, message=message, data={}
            )
            self.on_event(event)

    def _lock_cleared(self) -> None:
        assert self._owed_since is not None
        down = time.time() - self._owed_since
        owed, self._owed_since, self._owed_count = self._owed_count, None, 0
        self._owed_what.clear()
        message = (
            f"the store was locked by another process for {down:.1f}s; the writes "
            "kept in memory meanwhile are saved now"
        )
        log.warning("%s", message)
        self.note("error", message, {"down_s": round(down, 1), "failed_writes": owed})
        dropped = self._owed.take_dropped()
        if dropped:
            total = sum(dropped.values())
            parts = ", ".join(f"{n} {what}" for what, n in sorted(dropped.items()))
            self.note(
                "writes_dropped",
                f"{total} owed writes dropped while the store was locked ({parts}): the "
                "oldest observations went so memory stayed bounded; game states were kept",
                {"dropped": total, "by_kind": dict(dropped)},
            )

    def note(self, kind: str, message: str, data: JSONObject) -> None:
        """An event of the file's own to record (an outage over, owed writes dropped):
        the store keeps it as an event (Store.note); the log has the outage already."""

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    def close(self) -> None:
        """Write what is owed (waiting for a lock as a one-shot process does), then
        close the connection."""
        if self._owed:
            self._set_busy_timeout(BLOCKING_BUSY_TIMEOUT_S)
            if not self.flush_owed():
                log.error("closing the store with %d writes unsaved (locked)", self.owed())
        self.db.close()


def _locked(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (try again
    later), not for a lasting reason (a full disk, a read-only file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
