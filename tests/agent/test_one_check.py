"""Every path that gives a game settings passes one check, the one config.toml gets
(issue 19.1): an out-of-range value is refused naming the field and its range, and
nothing changes (no stop, no snapshot, no stored row, no event of a change).

One real agent for the module (Pong on the stand-in trainer), asked over its socket
and through `controlroom agent add/scale`; the TUI's keys are in tests/tui.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.hostcli.client import OpFailed
from tests.agent.harness import SLEEPER, AgentHarness, wait_for

CHANGES = ("game_added", "game_scaled", "migrated", "trial_started", "trainer_stopped")
RANGE = "num_envs: must be >= 1, not {} (range [1, 4096])"
TOO_BIG = "num_envs: must be <= 4096, not {} (range [1, 4096])"


@pytest.fixture(scope="module")
def pong(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentHarness]:
    """A real agent running Pong (stand-in trainer) with CartPole configured, unadded."""
    h = AgentHarness(tmp_path_factory.mktemp("one_check"))
    h.write_config(
        trainer={"command": SLEEPER},
        agent={"stop_grace_s": 1.0},
        games={"Pong": {}, "CartPole": {}},
    )
    try:
        h.start()
        h.call("add_game", game="Pong")
        wait_for(lambda: h.game("Pong").get("pid"), 30, "Pong's trainer")
        yield h
    finally:
        h.close()


def stored(h: AgentHarness) -> dict[str, Any]:
    """Each game's settings as the SQLite store holds them."""
    with contextlib.closing(sqlite3.connect(h.state_dir / "agent.db")) as db:
        rows = db.execute("SELECT name, settings FROM games").fetchall()
    return {name: json.loads(text) for name, text in rows}


def everything(h: AgentHarness) -> dict[str, Any]:
    """What a refused change must leave as it was."""
    games = h.call("status")["games"]
    snapshots = Path(h.state_dir / "snapshots")
    events = h.call("events", limit=1000)["events"]
    return {
        "games": {n: (g["settings"], g["pid"], g["wanted"]) for n, g in games.items()},
        "stored": stored(h),
        "snapshots": sorted(str(p) for p in snapshots.rglob("*")) if snapshots.exists() else [],
        "changes": len([e for e in events if e["kind"] in CHANGES]),
    }


def refused(h: AgentHarness, op: str, **args: Any) -> str:
    """The message of an `invalid` refusal of op, checking nothing changed."""
    before = everything(h)
    with pytest.raises(OpFailed) as failed:
        h.call(op, **args)
    assert failed.value.code == "invalid", failed.value
    assert everything(h) == before
    return failed.value.message


@pytest.mark.parametrize(("envs", "expected"), [(0, RANGE), (-1, RANGE), (5000, TOO_BIG)])
def test_scale_game_holds_num_envs_to_its_range(
    pong: AgentHarness, envs: int, expected: str
) -> None:
    message = refused(pong, "scale_game", game="Pong", num_envs=envs)
    assert expected.format(envs) in message  # not a minibatch divisibility complaint


def test_add_game_holds_num_envs_to_its_range(pong: AgentHarness) -> None:
    assert RANGE.format(0) in refused(pong, "add_game", game="CartPole", settings={"num_envs": 0})
    message = refused(pong, "add_game", game="Pong", settings={"num_envs": 0})
    assert RANGE.format(0) in message


def test_migrate_holds_num_envs_to_its_range(pong: AgentHarness) -> None:
    message = refused(pong, "migrate", game="Pong", settings={"num_envs": 0})
    assert RANGE.format(0) in message


@pytest.mark.parametrize("mode", ["instead", "beside"])
def test_trial_holds_num_envs_to_its_range(pong: AgentHarness, mode: str) -> None:
    message = refused(pong, "trial", game="Pong", settings={"num_envs": 0}, minutes=1.0, mode=mode)
    assert RANGE.format(0) in message


def test_a_whole_rule_is_refused_by_the_same_check(pong: AgentHarness) -> None:
    """In range alone but not as a whole: the minibatch must divide the rollout."""
    message = refused(pong, "migrate", game="Pong", settings={"minibatch_size": 7})
    assert "minibatch_size is 7; must divide num_envs*num_steps = 2*16 = 32" in message


@pytest.mark.parametrize(
    "argv",
    [
        ("scale", "Pong", "--num-envs", "0"),
        ("add", "Pong", "--num-envs", "0"),
        ("add", "CartPole", "--num-envs", "0"),
    ],
)
def test_the_cli_flags_reach_the_same_check(pong: AgentHarness, argv: tuple[str, ...]) -> None:
    before = everything(pong)
    done = pong.cli(*argv)
    assert done.returncode == 2, done
    assert RANGE.format(0) in done.stderr
    assert everything(pong) == before
