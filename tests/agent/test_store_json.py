"""Only JSON goes into the store: a NaN or an infinity never lands as text a strict reader
refuses; wanted settings holding one are refused, observations keep the row with null."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from controlroom.agent.storage.store import Store

NAN, INF = float("nan"), float("inf")


def _strict(text: str) -> object:
    """Parse as JSON proper: NaN/Infinity are not JSON."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _texts(path: Path, sql: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute(sql)]


def test_non_finite_settings_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    with pytest.raises(ValueError, match="Pong: settings learning_rate not a finite number"):
        store.put_game("Pong", True, {"num_envs": 2, "learning_rate": NAN})
    assert store.games() == []
    store.put_game("Pong", True, {"num_envs": 2, "learning_rate": 0.001})
    with pytest.raises(ValueError, match="ent_coef"):
        store.update_game("Pong", settings={"num_envs": 2, "ent_coef": -INF})
    assert store.games()[0].settings == {"num_envs": 2, "learning_rate": 0.001}
    store.close()


def test_non_finite_observations_are_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    store = Store(path)
    store.add_event("checkpoint", "Pong", "saved", {"loss": NAN, "curve": [1.0, INF]})
    store.add_sample(100.0, {"cpu_percent": NAN, "ram_percent": 12.5})
    store.kv_set("policy.state", {"speed": -INF, "ok": 1})
    for text in [
        *_texts(path, "SELECT data FROM events"),
        *_texts(path, "SELECT data FROM samples"),
        *_texts(path, "SELECT value FROM kv"),
    ]:
        _strict(text)  # every stored text is JSON proper
    assert store.events()[-1].data == {"loss": None, "curve": [1.0, None]}
    assert store.samples() == [{"ts": 100.0, "ram_percent": 12.5}]
    assert store.kv_get("policy.state") == {"speed": None, "ok": 1}
    store.close()
