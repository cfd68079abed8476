"""The agent's memory: one SQLite file (WAL) that survives agent restarts and reboots.

Tables: games (wanted state and what was observed), boots, events (append-only),
samples (down-sampled telemetry, bounded), kv (policy state). The wanted state is
committed before the supervisor acts on it, so a crash in between repeats the action
instead of losing it.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.agent.storage.owed import Owed, Row, Write, new_row, row_write
from controlroom.config import Settings
from controlroom.protocol import EVENT_KINDS, JSONObject

log = logging.getLogger(__name__)

EventSink = Callable[[protocol.Event], None]

# How long a one-shot process (the CLI, a migration at start) waits for another
# process's lock before SQLite says "database is locked".
BLOCKING_BUSY_TIMEOUT_S = 5.0
# How long the agent's event loop may wait for a lock on one write: its writes run on
# the loop, so anything longer stalls every client's reply (see Store._execute_write).
LOOP_BUSY_TIMEOUT_S = 0.05

SAMPLE_RETENTION_S = 7 * 24 * 3600.0
DEFAULT_MAX_EVENTS = 50_000

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

_GAME_COLUMNS = (
    "wanted",
    "settings",
    "paused",
    "pid",
    "pid_create_time",
    "cmdline",
    "started_at",
    "restarts",
    "last_exit",
    "state",
    "gpus",
)
_JSON_COLUMNS = ("settings", "cmdline", "gpus")


@dataclass(frozen=True)
class StoredGame:
    """One row of the games table: the wanted state and what was last observed."""

    name: str
    wanted: bool
    settings: Settings
    added_at: float
    updated_at: float
    paused: bool = False
    pid: int | None = None
    pid_create_time: float | None = None
    cmdline: list[str] | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    state: str | None = None
    gpus: list[int] = field(default_factory=list)


RowChange = Callable[[Row], Row]  # what a write does to a game's row


class Store:
    """A thin, typed layer over the SQLite file; every write commits at once.

    With `loop_safe` (the agent), a write that finds the database locked by another
    process (the CLI, a reader with a long transaction) waits at most
    LOOP_BUSY_TIMEOUT_S, then is owed: kept in order in memory and written by the next
    write or `flush_owed()` (each supervise tick) once the lock clears. Without it (a
    one-shot CLI), a write waits BLOCKING_BUSY_TIMEOUT_S and raises."""

    def __init__(
        self, path: Path, max_events: int = DEFAULT_MAX_EVENTS, *, loop_safe: bool = False
    ) -> None:
        self.path = path
        self.max_events = max_events
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL under WAL loses at most the last commits on power loss, never corrupts.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._set_busy_timeout(BLOCKING_BUSY_TIMEOUT_S)  # the start may wait: no client yet
        self._migrate()
        self.on_event: EventSink | None = None
        self._inserts = 0
        self._owed = Owed()
        self._owed_since: float | None = None
        self._owed_count = 0
        self._owed_what: set[str] = set()
        self._last_rowcount = 0
        self._lock_error = ""
        self.loop_safe = loop_safe
        self.prune_events()  # a lowered max_events applies from the start
        if loop_safe:
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
        self.add_event("error", None, message, {"down_s": round(down, 1), "failed_writes": owed})
        dropped = self._owed.take_dropped()
        if dropped:
            total = sum(dropped.values())
            parts = ", ".join(f"{n} {what}" for what, n in sorted(dropped.items()))
            self.add_event(
                "writes_dropped",
                None,
                f"{total} owed writes dropped while the store was locked ({parts}): the "
                "oldest observations went so memory stayed bounded; game states were kept",
                {"dropped": total, "by_kind": dict(dropped)},
            )

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

    # ---- games --------------------------------------------------------------------
    def games(self) -> list[StoredGame]:
        """Every stored game row, oldest added first."""
        rows = self.db.execute("SELECT * FROM games ORDER BY added_at, name").fetchall()
        return [_game_row(row) for row in rows]

    def put_game(self, name: str, wanted: bool, settings: Settings) -> None:
        """Insert or update a game's wanted state (kept: added_at and observations)."""
        now, text = time.time(), _settings_json(name, settings)
        self._game_write(
            name,
            "INSERT INTO games(name, wanted, settings, added_at, updated_at) "
            "VALUES(?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "wanted=excluded.wanted, settings=excluded.settings, updated_at=excluded.updated_at",
            (name, int(wanted), text, now, now),
            lambda row: {
                **(row or new_row(name, now)),
                "wanted": int(wanted),
                "settings": text,
                "updated_at": now,
            },
        )

    def update_game(self, name: str, **fields: Any) -> None:
        """Set observed columns of a game (pid, state, restarts, ...)."""
        bad = set(fields) - set(_GAME_COLUMNS)
        if bad:
            raise ValueError(f"unknown game columns {sorted(bad)}")
        values = [
            _column_json(name, k, v) if k in _JSON_COLUMNS and v is not None else v
            for k, v in fields.items()
        ]
        sets = ", ".join(f"{k}=?" for k in fields)  # names checked against _GAME_COLUMNS
        now, changed = time.time(), dict(zip(fields, values, strict=True))
        self._game_write(
            name,
            f"UPDATE games SET {sets}, updated_at=? WHERE name=?",  # noqa: S608
            (*values, now, name),
            lambda row: None if row is None else {**row, **changed, "updated_at": now},
        )

    def delete_game(self, name: str) -> None:
        """Forget a game."""
        self._game_write(name, "DELETE FROM games WHERE name=?", (name,), lambda row: None)

    # ---- boots --------------------------------------------------------------------
    def boot(self, boot_id: str) -> protocol.Boot | None:
        """One boot row, or None."""
        row = self.db.execute("SELECT * FROM boots WHERE boot_id=?", (boot_id,)).fetchone()
        return _boot_row(row) if row else None

    def last_boot(self) -> protocol.Boot | None:
        """The boot with the newest heartbeat."""
        row = self.db.execute("SELECT * FROM boots ORDER BY last_heartbeat DESC LIMIT 1").fetchone()
        return _boot_row(row) if row else None

    def add_boot(
        self, boot_id: str, boot_time: float, now: float, prev: protocol.Boot | None
    ) -> None:
        """Record a boot seen for the first time, linked to the one before it."""
        self._execute_write(
            "INSERT INTO boots(boot_id, boot_time, first_seen, last_heartbeat, prev_boot_id, "
            "uptime_before_s, downtime_before_s) VALUES(?, ?, ?, ?, ?, ?, ?)",
            (
                boot_id,
                boot_time,
                now,
                now,
                prev and prev.boot_id,
                prev and prev.uptime_s,
                prev and max(0.0, boot_time - prev.last_heartbeat),
            ),
            "the boot",
        )

    def heartbeat(self, boot_id: str, now: float, load: protocol.Load) -> None:
        """Move a boot's last heartbeat forward and keep the load seen then."""
        self._execute_write(
            "UPDATE boots SET last_heartbeat=?, load=? WHERE boot_id=?",
            (now, protocol.encode(load).decode().strip(), boot_id),
            "the heartbeat",
            key=f"heartbeat {boot_id}",
        )

    def boots(self) -> list[protocol.Boot]:
        """Every boot in protocol shape, oldest first."""
        rows = self.db.execute("SELECT * FROM boots ORDER BY boot_time, first_seen").fetchall()
        return [_boot_row(row) for row in rows]

    # ---- events -------------------------------------------------------------------
    def add_event(
        self, kind: str, game: str | None, message: str, data: JSONObject | None = None
    ) -> protocol.Event:
        """Append an event and hand it to the sink (which pushes it to clients)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = protocol.Event(
            ts=time.time(), kind=kind, game=game, message=message, data=data or {}
        )
        self._execute_write(
            "INSERT INTO events(ts, kind, game, message, data) VALUES(?,?,?,?,?)",
            (event.ts, kind, game, message, _json(event.data)),
            "events",
            droppable=True,
        )
        self._inserts += 1
        if self._inserts >= self._prune_every():
            self.prune_events()
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _prune_every(self) -> int:
        # A delete every tenth of the bound (at most every 1000 inserts) keeps the table
        # within 10 % of it, and the delete (a range on the primary key) runs rarely.
        return max(1, min(1000, self.max_events // 10))

    def prune_events(self) -> int:
        """Delete all but the newest `max_events` events; returns how many went."""
        self._inserts = 0
        return self._execute_write(
            "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC "
            "LIMIT 1 OFFSET ?)",
            (max(0, self.max_events),),
            "events",
            key="prune events",
        )

    def events(self, limit: int = 100, since: float | None = None) -> list[protocol.Event]:
        """The newest `limit` events (after `since` when given), oldest first."""
        return [event for _, event in reversed(list(self.events_newest(limit, since)))]

    def events_newest(
        self, limit: int, since: float | None = None, before: int | None = None
    ) -> Iterator[tuple[int, protocol.Event]]:
        """(id, event) newest first: at most `limit`, after time `since`, with an id below
        `before` (a paging cursor). Read lazily: a caller may stop after a few. Each event
        is bounded (see _event_row), so a page of them always fits a line."""
        cur = self.db.execute(
            "SELECT * FROM events WHERE ts > ? AND id < ? ORDER BY id DESC LIMIT ?",
            (_bounded(since, -1.0), _bounded(before, float(2**63)), max(0, limit)),
        )
        for row in cur:
            yield row["id"], _event_row(row)

    def events_of(self, kinds: Iterable[str], game: str, limit: int) -> list[protocol.Event]:
        """The newest `limit` events of these kinds about `game` or the whole host (a
        reboot), oldest first: the marks on a game's learning curve."""
        cur = self.db.execute(
            "SELECT * FROM events WHERE kind IN (SELECT value FROM json_each(?)) "
            "AND (game = ? OR game IS NULL) ORDER BY id DESC LIMIT ?",
            (json.dumps(list(kinds)), game, max(0, limit)),
        )
        return [_event_row(row) for row in reversed(cur.fetchall())]

    # ---- samples and kv -----------------------------------------------------------
    def add_sample(self, ts: float, data: dict[str, float]) -> None:
        """Keep one telemetry sample; drop those past the retention window."""
        self._execute_write(
            "INSERT OR REPLACE INTO samples(ts, data) VALUES(?, ?)",
            (ts, _json(data)),
            "telemetry",
            droppable=True,
        )
        self._execute_write(
            "DELETE FROM samples WHERE ts < ?",
            (ts - SAMPLE_RETENTION_S,),
            "telemetry",
            key="prune samples",
        )

    def samples(self, since: float = 0.0) -> list[dict[str, float]]:
        """Stored samples after `since`, oldest first, each with its ts."""
        rows = self.db.execute(
            "SELECT ts, data FROM samples WHERE ts > ? ORDER BY ts", (since,)
        ).fetchall()
        # A number that was not finite is stored as null (see _json): not a sample.
        return [
            {"ts": row["ts"], **{k: v for k, v in json.loads(row["data"]).items() if v is not None}}
            for row in rows
        ]

    def kv_get(self, key: str) -> Any | None:
        """A JSON value kept for the policy engine, or None."""
        row = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row["value"]) if row else None

    def kv_set(self, key: str, value: Any) -> None:
        """Keep a JSON value across restarts and reboots."""
        self._execute_write(
            "INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)",
            (key, _json(value)),
            f"the policy's {key}",
            key=f"kv {key}",
        )


# ---- JSON into the store: the one place a value becomes stored text -------------------
# Python's json writes NaN and Infinity, which are not JSON: a reader (the wire, another
# tool) would refuse the row. Observations (event data, telemetry, the policy's state)
# keep the row with the number made null; wanted settings are refused, because a game
# must never be started with a setting nobody meant.
def _json(value: object) -> str:
    """An observation as JSON text, any non-finite number made null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(protocol.finite(value), allow_nan=False)


def _settings_json(game: str, settings: Settings) -> str:
    """A game's settings as JSON text; ValueError (nothing stored) naming a non-finite
    value."""
    try:
        return json.dumps(settings, allow_nan=False)
    except ValueError:
        bad = sorted(k for k, v in settings.items() if _has_non_finite(v))
        raise ValueError(
            f"{game}: settings {', '.join(bad)} not a finite number; not stored"
        ) from None


def _column_json(game: str, column: str, value: Any) -> str:
    return _settings_json(game, value) if column == "settings" else _json(value)


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False


def _locked(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (try again
    later), not for a lasting reason (a full disk, a read-only file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _game_row(row: sqlite3.Row) -> StoredGame:
    raw = dict(row)
    for key in _JSON_COLUMNS:
        raw[key] = json.loads(raw[key]) if raw[key] is not None else None
    return StoredGame(
        name=raw["name"],
        wanted=bool(raw["wanted"]),
        settings=raw["settings"],
        added_at=raw["added_at"],
        updated_at=raw["updated_at"],
        paused=bool(raw["paused"]),
        pid=raw["pid"],
        pid_create_time=raw["pid_create_time"],
        cmdline=raw["cmdline"],
        started_at=raw["started_at"],
        restarts=raw["restarts"],
        last_exit=raw["last_exit"],
        state=raw["state"],
        gpus=[int(i) for i in raw["gpus"] or []],
    )


def _boot_row(row: sqlite3.Row) -> protocol.Boot:
    return protocol.Boot(
        boot_id=row["boot_id"],
        boot_time=row["boot_time"],
        first_seen=row["first_seen"],
        last_heartbeat=row["last_heartbeat"],
        uptime_s=max(0.0, row["last_heartbeat"] - row["boot_time"]),
        load=_load(row["load"]),
        prev_boot_id=row["prev_boot_id"],
        uptime_before_s=row["uptime_before_s"],
        downtime_before_s=row["downtime_before_s"],
    )


def _load(text: str) -> protocol.Load:
    """A boot's stored load; one that does not read as a Load (an older agent's, a hand
    edit) is unknown rather than a boot list that cannot be shown."""
    try:
        return msgspec.json.decode(text, type=protocol.Load)
    except msgspec.MsgspecError:
        return protocol.Load()


def _event_row(row: sqlite3.Row) -> protocol.Event:
    return protocol.Event(
        ts=row["ts"],
        kind=row["kind"],
        game=row["game"],
        message=_short(row["message"]),
        data=_event_data(row["data"]),
    )


# An event is a line in a log, not a file: one that somehow got stored huge is shown cut.
MAX_EVENT_MESSAGE, MAX_EVENT_DATA = 8192, 32768


def _short(message: str) -> str:
    if len(message) <= MAX_EVENT_MESSAGE:
        return message
    return f"{message[:MAX_EVENT_MESSAGE]}... ({len(message) - MAX_EVENT_MESSAGE} chars cut)"


def _event_data(text: str) -> Any:
    if len(text) > MAX_EVENT_DATA:
        return {"truncated": True, "bytes": len(text)}
    # NaN or Infinity on disk (an older agent let them in) reads as null: the wire
    # cannot carry them, and one bad event must not make every snapshot unsendable.
    return json.loads(text, parse_constant=lambda _: None, parse_float=_finite_or_none)


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _bounded(value: float | None, default: float) -> float:
    """A query bound as a float: SQLite has no integer beyond 64 bits (OverflowError)."""
    if value is None:
        return default
    try:
        return max(-1e300, min(1e300, float(value)))
    except OverflowError:  # an int beyond any float
        return 1e300 if value > 0 else -1e300
