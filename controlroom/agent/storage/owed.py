"""The writes the agent owes its store while another process holds the lock: bounded.

A lock held for hours must not grow the agent's memory without end (issue 19.2). So
what is owed keeps what matters and stays small:
- a game's row is owed as one image of the row as it will be (or its deletion): every
  later write to the row changes the image, so a game owes one write however many
  transitions it went through, and the newest state is what lands;
- a write with a `key` (a boot's heartbeat, a kv value, a prune) replaces the owed one
  with the same key: only the newest matters;
- the rest are observations (events, telemetry samples): past MAX_OWED, the oldest one
  goes, counted per kind, and the store says how many once it is writable again.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, NamedTuple

from controlroom.agent.storage.rows import GAME_COLUMNS

MAX_OWED = 1000  # owed writes besides the game rows; ~1 KB each at most

# Every column of the games table: its key and stamps, and those an update may set.
ROW_COLUMNS = ("name", "added_at", "updated_at", *GAME_COLUMNS)
Row = dict[str, Any] | None  # a games row as it will be once written; None = deleted


class Write(NamedTuple):
    """One owed write."""

    sql: str
    params: tuple[Any, ...]
    what: str  # what it saves, for the log and the drop count
    key: str | None = None  # a newer write with the same key replaces this one
    droppable: bool = False  # an observation, dropped (counted) past the cap


def new_row(name: str, now: float) -> dict[str, Any]:
    """A games row as an INSERT with only the wanted state makes it."""
    row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)
    return {**row, "name": name, "added_at": now, "paused": 0, "restarts": 0, "gpus": "[]"}


def row_write(name: str, row: Row) -> Write:
    """The one write that makes a game's row what the image says."""
    if row is None:
        return Write("DELETE FROM games WHERE name=?", (name,), name)
    marks = ", ".join("?" for _ in ROW_COLUMNS)
    sql = f"INSERT OR REPLACE INTO games({', '.join(ROW_COLUMNS)}) VALUES({marks})"
    return Write(sql, tuple(row[c] for c in ROW_COLUMNS), name)


class Owed:
    """Owed writes in order, one image per game row, and what was dropped."""

    def __init__(self, cap: int = MAX_OWED) -> None:
        self.cap = cap
        self.writes: deque[Write] = deque()
        self.rows: dict[str, Row] = {}
        self.dropped: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.writes) + len(self.rows)

    def add(self, write: Write) -> None:
        """Owe a write: replacing the one of the same key, dropping the oldest
        observation once past the cap."""
        if write.key is not None:
            for old in [w for w in self.writes if w.key == write.key]:
                self.writes.remove(old)
        self.writes.append(write)
        while len(self.writes) > self.cap and self._drop_oldest():
            pass

    def _drop_oldest(self) -> bool:
        for i, w in enumerate(self.writes):
            if w.droppable:
                del self.writes[i]
                self.dropped[w.what] += 1
                return True
        return False

    def take_dropped(self) -> Counter[str]:
        """What was dropped since the last call, per kind; the count starts again."""
        dropped, self.dropped = self.dropped, Counter()
        return dropped
