"""A bad game row in the agent's SQLite store is set aside on start, not served.

Issue 10.1: a stored NaN or 1e999 made every snapshot unsendable (every client got
hello and was dropped, also after a restart); a negative seed crash-looped the
trainer. The agent repairs such a row from the config, stops the game and says why.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from controlroom.agent.storage import paths
from controlroom.agent.storage.store import Store
from controlroom.config import load
from tests.agent.harness import SLEEPER, AgentHarness

# name -> (the stored settings' text, given the good settings; the key set aside)
BAD_ROWS: dict[str, tuple[Any, str]] = {
    "infinite-interval": (
        lambda s: json.dumps({**s, "checkpoint_interval_s": float("inf")}),
        "checkpoint_interval_s",
    ),
    "nan-fraction": (
        lambda s: json.dumps({**s, "gpu_memory_fraction": float("nan")}),
        "gpu_memory_fraction",
    ),
    "negative-seed": (lambda s: json.dumps({**s, "seed": -1}), "seed"),
    "huge-envs": (lambda s: json.dumps({**s, "num_envs": 10**12}), "num_envs"),
    "wrong-type": (lambda s: json.dumps({**s, "device": ["cuda"]}), "device"),
    "not-json": (lambda s: "{not json", "not a JSON object"),
}


def seed_store(h: AgentHarness, text: str) -> dict[str, Any]:
    """A wanted Pong row with `text` as its settings, written into a real store; the
    config's good settings."""
    h.write_config(trainer={"command": SLEEPER})
    good = load(h.config_path).game_settings("Pong")
    h.state_dir.mkdir(mode=0o700)
    store = Store(paths.db_path(h.state_dir))
    store.put_game("Pong", True, good)
    store.close()
    db = sqlite3.connect(paths.db_path(h.state_dir))
    with db:
        db.execute("UPDATE games SET settings=? WHERE name='Pong'", (text,))
    db.close()
    return good


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_stored_row_is_quarantined_with_an_error_event(agent: AgentHarness, case: str) -> None:
    make_text, key = BAD_ROWS[case]
    good = seed_store(agent, make_text(load_default_settings(agent)))
    agent.start()
    status = agent.call("status")  # the snapshot encodes: no client is locked out
    pong = status["games"]["Pong"]
    assert pong["wanted"] is False
    settings = pong["settings"]
    assert settings == {k: v for k, v in good.items() if k != "command"}
    errors = [
        e
        for e in agent.call("events", limit=50)["events"]
        if e["kind"] == "error" and e["game"] == "Pong"
    ]
    assert len(errors) == 1 and key in errors[0]["message"], errors
    assert not agent.trainers()  # nothing started with (or instead of) the bad settings
    # Repaired on disk: a restart finds nothing more to set aside.
    agent.terminate()
    agent.start()
    errors = [e for e in agent.call("events", limit=50)["events"] if e["kind"] == "error"]
    assert len(errors) == 1
    # And the game runs again when asked.
    agent.call("start_game", game="Pong")
    assert agent.game("Pong")["wanted"] is True


def load_default_settings(h: AgentHarness) -> dict[str, Any]:
    h.write_config(trainer={"command": SLEEPER})
    return load(h.config_path).game_settings("Pong")
