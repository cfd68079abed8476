"""One lock order for core and policy ops (issue 12.4).

A mutating core op (scale_game, add_game) and a policy op (migrate) used to run under
two unrelated locks: a scale landing while a migration waited for the trainer to stop
was lost, the migration restarting the game with the settings it had read before.
Now both hold the game's lock (after the policy lock, or after the core op lock:
daemon.py), so they run one after the other and each sees the other's result: the game
ends with both changes and one trainer, and neither op fails.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.agent.harness import AgentHarness, wait_for
from tests.policy.conftest import running_pid

ROUNDS = 4


def _together(
    h: AgentHarness, first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]]
) -> list[BaseException]:
    """Send `first`, then `second` a moment later on another connection (while the first
    is still waiting for its trainer to stop); the errors either raised."""
    errors: list[BaseException] = []

    def call(op: str, args: dict[str, Any], delay: float) -> None:
        with h.client() as c:
            time.sleep(delay)
            try:
                c.call(op, **args)
            except BaseException as exc:
                errors.append(exc)

    threads = [
        threading.Thread(target=call, args=(*first, 0.0)),
        threading.Thread(target=call, args=(*second, 0.03)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_core_and_policy_ops_at_once_keep_both_changes(sleeper: AgentHarness) -> None:
    h = sleeper
    for i in range(ROUNDS):
        seed, envs = 100 + i, 4 if i % 2 == 0 else 8
        core_op = (
            ("scale_game", {"game": "Pong", "num_envs": envs})
            if i < 2
            else ("add_game", {"game": "Pong", "settings": {"num_envs": envs}})
        )
        errors = _together(h, ("migrate", {"game": "Pong", "settings": {"seed": seed}}), core_op)
        assert errors == [], errors
        settings = h.game("Pong")["settings"]
        assert (settings["seed"], settings["num_envs"]) == (seed, envs), (i, settings)
        wait_for(lambda: running_pid(h), 30, "Pong running")
        assert len(h.trainers()) == 1, [p.cmdline() for p in h.trainers()]
