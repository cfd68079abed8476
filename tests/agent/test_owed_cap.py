"""Writes owed while another connection holds the store's lock stay bounded (issue
19.2): a game's row is owed once (its newest state lands after the unlock), keyed
writes once, and past the cap the oldest events go, counted in a writes_dropped event
once the store is writable again. A real SQLite file, locked by a second connection."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.storage import database as store_module
from controlroom.agent.storage.owed import MAX_OWED
from controlroom.agent.storage.store import Store

WRITES = MAX_OWED + 500  # events owed: 500 past the cap


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """An agent's store (loop_safe) on a real file. Each owed write waits the loop's
    busy timeout for the lock: made 1 ms, so 1,500 rounds of writes take seconds."""
    monkeypatch.setattr(store_module, "LOOP_BUSY_TIMEOUT_S", 0.001)
    s = Store(tmp_path / "agent.db", loop_safe=True)
    s.put_game("Pong", True, {"num_envs": 1})
    s.put_game("Gone", True, {"num_envs": 1})
    try:
        yield s
    finally:
        s.close()


def _one(path: Path, sql: str) -> tuple[Any, ...]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return tuple(db.execute(sql).fetchone() or ())


def test_owed_writes_stay_bounded_and_the_newest_state_lands(store: Store) -> None:
    path = store.path
    locker = sqlite3.connect(path, isolation_level=None, timeout=10)
    locker.execute("BEGIN IMMEDIATE")  # the write lock, as a CLI or a long reader holds it
    most = 0
    try:
        for i in range(WRITES):
            store.add_event("checkpoint", "Pong", f"checkpoint {i}")
            store.update_game("Pong", state="running" if i % 2 else "starting", restarts=i)
            store.put_game("Pong", True, {"num_envs": i + 1})
            store.kv_set("policy", {"tick": i})
            store.add_sample(float(i), {"gpu": 1.0})
            if i == 10:
                store.delete_game("Gone")
            most = max(most, store.owed())
        assert _one(path, "SELECT settings FROM games WHERE name='Pong'") == ('{"num_envs": 1}',)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # Events and samples share the cap (keyed writes inside it); each game row once more.
    assert most <= MAX_OWED + 2, most

    assert store.flush_owed() and store.owed() == 0
    last = WRITES - 1
    assert _one(path, "SELECT settings, state, restarts FROM games WHERE name='Pong'") == (
        json.dumps({"num_envs": WRITES}),
        "starting" if last % 2 == 0 else "running",
        last,
    )
    assert _one(path, "SELECT name FROM games WHERE name='Gone'") == ()
    assert json.loads(_one(path, "SELECT value FROM kv WHERE key='policy'")[0]) == {"tick": last}
    newest = "SELECT message FROM events WHERE kind='checkpoint' ORDER BY id DESC LIMIT 1"
    assert _one(path, newest) == (f"checkpoint {last}",)
    message, data = _one(path, "SELECT message, data FROM events WHERE kind='writes_dropped'")
    dropped = json.loads(data)
    assert dropped["dropped"] == sum(dropped["by_kind"].values())
    assert dropped["dropped"] >= 2 * WRITES - MAX_OWED  # every event and sample past the cap
    assert set(dropped["by_kind"]) == {"events", "telemetry"}
    assert f"{dropped['dropped']} owed writes dropped" in message
