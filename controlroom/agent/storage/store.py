"""The agent's memory: one SQLite file (WAL) that survives agent restarts and reboots.

Tables: games (wanted state and what was observed), boots, events (append-only),
samples (down-sampled telemetry, bounded), kv (policy state). The wanted state is
committed before the supervisor acts on it, so a crash in between repeats the action
instead of losing it. The file, its schema and its writes owed under another process's
lock are database.py's (with owed.py); rows to values and back are rows.py's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.agent.storage.database import Database
from controlroom.agent.storage.owed import new_row
from controlroom.agent.storage.rows import (
    GAME_COLUMNS,
    JSON_COLUMNS,
    StoredGame,
    boot_row,
    bounded,
    column_json,
    event_row,
    game_row,
    json_text,
    settings_json,
)
from controlroom.config import Settings
from controlroom.protocol import EVENT_KINDS, JSONObject

SAMPLE_RETENTION_S = 7 * 24 * 3600.0
DEFAULT_MAX_EVENTS = 50_000


class Store(Database):
    """The tables' typed reads and writes; every write commits at once (or is owed
    while another process holds the lock: Database)."""

    def __init__(
        self, path: Path, max_events: int = DEFAULT_MAX_EVENTS, *, loop_safe: bool = False
    ) -> None:
        super().__init__(path, loop_safe=loop_safe)
        self.max_events = max_events
        self._inserts = 0
        self.prune_events()  # a lowered max_events applies from the start
        self.serve_loop()

    def note(self, kind: str, message: str, data: JSONObject) -> None:
        """The file's own news (an outage over, owed writes dropped) as an event."""
        self.add_event(kind, None, message, data)

    # ---- games --------------------------------------------------------------------
    def games(self) -> list[StoredGame]:
        """Every stored game row, oldest added first."""
        rows = self.db.execute("SELECT * FROM games ORDER BY added_at, name").fetchall()
        return [game_row(row) for row in rows]

    def put_game(self, name: str, wanted: bool, settings: Settings) -> None:
        """Insert or update a game's wanted state (kept: added_at and observations)."""
        now, text = time.time(), settings_json(name, settings)
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
        bad = set(fields) - set(GAME_COLUMNS)
        if bad:
            raise ValueError(f"unknown game columns {sorted(bad)}")
        values = [
            column_json(name, k, v) if k in JSON_COLUMNS and v is not None else v
            for k, v in fields.items()
        ]
        sets = ", ".join(f"{k}=?" for k in fields)  # names checked against GAME_COLUMNS
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
        return boot_row(row) if row else None

    def last_boot(self) -> protocol.Boot | None:
        """The boot with the newest heartbeat."""
        row = self.db.execute("SELECT * FROM boots ORDER BY last_heartbeat DESC LIMIT 1").fetchone()
        return boot_row(row) if row else None

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
        return [boot_row(row) for row in rows]

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
            (event.ts, kind, game, message, json_text(event.data)),
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
        is bounded (see rows.event_row), so a page of them always fits a line."""
        cur = self.db.execute(
            "SELECT * FROM events WHERE ts > ? AND id < ? ORDER BY id DESC LIMIT ?",
            (bounded(since, -1.0), bounded(before, float(2**63)), max(0, limit)),
        )
        for row in cur:
            yield row["id"], event_row(row)

    def events_of(self, kinds: Iterable[str], game: str, limit: int) -> list[protocol.Event]:
        """The newest `limit` events of these kinds about `game` or the whole host (a
        reboot), oldest first: the marks on a game's learning curve."""
        cur = self.db.execute(
            "SELECT * FROM events WHERE kind IN (SELECT value FROM json_each(?)) "
            "AND (game = ? OR game IS NULL) ORDER BY id DESC LIMIT ?",
            (json.dumps(list(kinds)), game, max(0, limit)),
        )
        return [event_row(row) for row in reversed(cur.fetchall())]

    # ---- samples and kv -----------------------------------------------------------
    def add_sample(self, ts: float, data: dict[str, float]) -> None:
        """Keep one telemetry sample; drop those past the retention window."""
        self._execute_write(
            "INSERT OR REPLACE INTO samples(ts, data) VALUES(?, ?)",
            (ts, json_text(data)),
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
        # A number that was not finite is stored as null (see rows.json_text): not a sample.
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
            (key, json_text(value)),
            f"the policy's {key}",
            key=f"kv {key}",
        )
