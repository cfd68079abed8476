"""agent/learning/histories.py with a real Store and real run dirs, without a daemon: marks from
the stored events (a reboot before the game was added is not its mark), games followed
as the supervisor adds, replaces and forgets them, diagnosis changes reported once, and
a store that cannot answer leaves the curve without its old marks instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlroom import protocol
from controlroom.agent.learning import histories as learning_module
from controlroom.agent.learning.histories import Learning
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision.gamerun import GameRun
from controlroom.config import DiagnosticsConfig


def run_dir(root: Path, kl: float, n: int = 12) -> Path:
    """A run dir whose metrics.jsonl holds a start line and n updates."""
    path = root / "runs" / "Breakout"
    path.mkdir(parents=True, exist_ok=True)
    lines = [{"time": 100.0, "kind": "start", "global_step": 0, "resumed_from": None}]
    lines += [
        {"time": 100.0 + i, "kind": "update", "global_step": 64 * i, "losses/approx_kl": kl}
        for i in range(1, n + 1)
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_marks_games_and_diagnosis(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    learning = Learning(tmp_path, store, DiagnosticsConfig)
    store.add_event("reboot", None, "an old reboot")  # before the game was added
    g = GameRun("Breakout", {}, run_dir(tmp_path, kl=0.5), added_at=store.events()[0].ts + 1)
    store.add_event("crash", "Breakout", "Breakout trainer crashed")
    store.add_event("crash", "Pong", "another game's crash")
    assert learning.sync({"Breakout": g}) == ["Breakout"]  # kl_high: a change
    assert [d.code for d in g.diagnosis] == ["kl_high"]
    h = learning.histories["Breakout"]
    assert [m.kind for m in h.marks] == ["start", "crash"] and len(h.rows) == 12
    assert learning.sync({"Breakout": g}) == []  # nothing moved: nothing to send
    g.tail.poll()  # the supervisor's tail feeds the history: the same lines add nothing
    assert len(h.rows) == 12
    learning.on_event(protocol.Event(ts=200.0, kind="reboot", game=None, message="rebooted"))
    reboot = next(m for m in h.marks if m.time == 200.0)
    assert reboot.kind == "reboot" and reboot.global_step == 64 * 12  # the step then
    again = GameRun("Breakout", {}, run_dir(tmp_path, kl=0.001), added_at=0.0)
    assert learning.sync({"Breakout": again}) == []  # re-added: rebuilt, nothing wrong
    assert learning.histories["Breakout"] is not h and again.tail.on_line is not None
    assert learning.sync({}) == [] and learning.histories == {}


def test_a_store_that_cannot_answer_leaves_the_curve_without_old_marks(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    learning = Learning(tmp_path, store, DiagnosticsConfig)
    g = GameRun("Breakout", {}, run_dir(tmp_path, kl=0.001), added_at=0.0)
    store.db.execute("DROP TABLE events")  # any sqlite3.Error on reading the event log
    assert learning.sync({"Breakout": g}) == []
    h = learning.histories["Breakout"]
    assert len(h.rows) == 12 and [m.kind for m in h.marks] == ["start"]
    learning.on_event(protocol.Event(ts=300.0, kind="crash", game="Breakout", message="x"))
    assert [m.kind for m in h.marks] == ["start", "crash"]  # live events still mark


def test_games_are_rebuilt_a_few_per_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learning_module, "ATTACH_BUDGET_S", 0.0)  # one per pass, then
    learning = Learning(tmp_path, Store(tmp_path / "agent.db"), DiagnosticsConfig)
    path = run_dir(tmp_path, kl=0.5)
    games = {n: GameRun(n, {}, path, added_at=0.0) for n in ("Breakout", "Pong", "Seaquest")}
    assert [learning.sync(games) for _ in range(3)] == [["Breakout"], ["Pong"], ["Seaquest"]]
    assert list(learning.histories) == ["Breakout", "Pong", "Seaquest"]
