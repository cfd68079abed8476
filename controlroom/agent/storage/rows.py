"""The store's rows as typed values, and values as the store's JSON text.

The one place a value becomes stored text, and stored text a value again: what
store.py writes and reads through, so the tables there hold only their queries.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.config import Settings

# The games table's columns an update may set (all but name, added_at and updated_at).
GAME_COLUMNS = (
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
JSON_COLUMNS = ("settings", "cmdline", "gpus")


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


# ---- JSON into the store: the one place a value becomes stored text -------------------
# Python's json writes NaN and Infinity, which are not JSON: a reader (the wire, another
# tool) would refuse the row. Observations (event data, telemetry, the policy's state)
# keep the row with the number made null; wanted settings are refused, because a game
# must never be started with a setting nobody meant.
def json_text(value: object) -> str:
    """An observation as JSON text, any non-finite number made null."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(protocol.finite(value), allow_nan=False)


def settings_json(game: str, settings: Settings) -> str:
    """A game's settings as JSON text; ValueError (nothing stored) naming a non-finite
    value."""
    try:
        return json.dumps(settings, allow_nan=False)
    except ValueError:
        bad = sorted(k for k, v in settings.items() if _has_non_finite(v))
        raise ValueError(
            f"{game}: settings {', '.join(bad)} not a finite number; not stored"
        ) from None


def column_json(game: str, column: str, value: Any) -> str:
    return settings_json(game, value) if column == "settings" else json_text(value)


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False


def game_row(row: sqlite3.Row) -> StoredGame:
    raw = dict(row)
    for key in JSON_COLUMNS:
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


def boot_row(row: sqlite3.Row) -> protocol.Boot:
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


def event_row(row: sqlite3.Row) -> protocol.Event:
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


def bounded(value: float | None, default: float) -> float:
    """A query bound as a float: SQLite has no integer beyond 64 bits (OverflowError)."""
    if value is None:
        return default
    try:
        return max(-1e300, min(1e300, float(value)))
    except OverflowError:  # an int beyond any float
        return 1e300 if value > 0 else -1e300
