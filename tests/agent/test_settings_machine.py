"""A stateful property (issue 19.1): random sequences of every op that gives a game
settings, with values in and far out of range, against a real agent over its socket.
Whatever the order, every game the SQLite store holds has settings that pass the one
check config.toml gets (config.settings_problem), and no reply is `internal`."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from controlroom.agent.hostcli.client import OpFailed
from controlroom.config import settings_problem
from tests.agent.harness import SLEEPER, AgentHarness

GAMES = st.sampled_from(["Pong", "CartPole"])
# In range, out of range at each end, huge, and in range but not dividing the rollout.
ENVS = st.sampled_from([0, -1, 1, 2, 3, 4, 4096, 4097, 10**6, 2**62])
STEPS = st.sampled_from([0, -5, 16, 8192, 8193])
MINIBATCHES = st.sampled_from([0, -16, 7, 16, 32, 10**12])
OPTIONAL = st.none()

CONFIG = """
[trainer]
num_envs = 2
num_steps = 16
minibatch_size = 16
command = {command}

[games.Pong]
[games.CartPole]

[profiles.solo]
games = ["Pong"]
num_envs = 4
num_steps = 16
minibatch_size = 16

[profiles.both]
games = ["Pong", "CartPole"]
num_envs = 2
num_steps = 16
minibatch_size = 32

[agent]
heartbeat_s = 0.5
telemetry_s = 0.5
stop_grace_s = 1.0
backoff_initial_s = 0.5
backoff_max_s = 2.0
"""


def stored_settings(state_dir: Path) -> dict[str, Any]:
    """Each game's settings as the real SQLite store holds them."""
    with contextlib.closing(sqlite3.connect(state_dir / "agent.db", timeout=10)) as db:
        rows = db.execute("SELECT name, settings FROM games").fetchall()
    return {name: json.loads(text) for name, text in rows}


class SettingsOps(RuleBasedStateMachine):
    """Every settings-changing op, in any order; the agent is shared by all runs."""

    agent: AgentHarness  # set by the test before the machine runs

    def call(self, op: str, **args: Any) -> None:
        code = "ok"
        try:
            self.agent.call(op, **args)
        except OpFailed as exc:
            code = exc.code
        assert code != "internal", f"{op} {args}"

    @initialize()
    def both_games_wanted(self) -> None:
        """Start each run from games that exist, so the ops act rather than miss."""
        for game in ("Pong", "CartPole"):
            self.call("add_game", game=game)

    @rule(game=GAMES, envs=ENVS, steps=STEPS, mb=MINIBATCHES)
    def add(self, game: str, envs: int, steps: int, mb: int) -> None:
        shape = {"num_envs": envs, "num_steps": steps, "minibatch_size": mb}
        self.call("add_game", game=game, settings=shape)

    @rule(game=GAMES, envs=ENVS)
    def scale(self, game: str, envs: int) -> None:
        self.call("scale_game", game=game, num_envs=envs)

    @rule(game=GAMES, envs=ENVS, mb=MINIBATCHES)
    def migrate(self, game: str, envs: int, mb: int) -> None:
        self.call("migrate", game=game, settings={"num_envs": envs, "minibatch_size": mb})

    @rule(game=GAMES, envs=ENVS, mode=st.sampled_from(["instead", "beside"]))
    def trial(self, game: str, envs: int, mode: str) -> None:
        # 0.01 min: an instead trial ends (back to its settings) within a few ticks.
        self.call("trial", game=game, settings={"num_envs": envs}, minutes=0.01, mode=mode)

    @rule(game=GAMES)
    def rollback(self, game: str) -> None:
        self.call("rollback", game=game)

    @rule(name=st.sampled_from(["solo", "both"]))
    def profile(self, name: str) -> None:
        self.call("apply_profile", name=name)

    @rule(games=st.lists(GAMES, unique=True))
    def queue(self, games: list[str]) -> None:
        self.call("set_queue", games=games)

    @rule(on=st.booleans())
    def ramp(self, on: bool) -> None:
        self.call("set_ramp", enabled=on)

    @rule(game=GAMES, op=st.sampled_from(["start_game", "stop_game", "remove_game"]))
    def plain(self, game: str, op: str) -> None:
        self.call(op, game=game)

    @invariant()
    def every_stored_game_passes_the_check(self) -> None:
        for name, stored in stored_settings(self.agent.state_dir).items():
            assert settings_problem(stored) is None, (name, stored)


def test_no_sequence_of_ops_stores_settings_out_of_bounds(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    h.config_path.write_text(CONFIG.format(command=json.dumps(SLEEPER)))
    try:
        h.start()
        SettingsOps.agent = h
        run_state_machine_as_test(
            SettingsOps,
            settings=settings(
                max_examples=10,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        h.close()
