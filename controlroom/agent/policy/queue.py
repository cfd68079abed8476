"""The queue: games beyond the active set wait in order and take the slot of a game
that reaches its target (the log's "all 10 games", done without a person watching).

A freed slot carries the finished game's settings, so the load the host has proven it
can carry stays the same while the games change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from controlroom.config import Config, Settings
from controlroom.protocol import GameState

RUNNING_STATES = frozenset({"starting", "running", "backoff", "hung", "crashed", "paused"})


def reached_target(state: GameState) -> bool:
    """Done by state, or by counted episodes (a trainer may not have exited yet)."""
    if state.state == "done":
        return True
    episodes = int((state.metrics or {}).get("episodes") or 0)
    ckpt = int(state.checkpoint.episodes) if state.checkpoint else 0
    target = int(state.target_episodes or 0)
    return target > 0 and max(episodes, ckpt) >= target


def is_active(state: GameState) -> bool:
    """Wanted and holding (or about to hold) a trainer."""
    return state.wanted and state.state in RUNNING_STATES


def default_order(cfg: Config, games: dict[str, GameState]) -> list[str]:
    """Configured games that are neither active nor finished, in config.toml order."""
    return [
        g
        for g in cfg.games
        if not (g in games and (is_active(games[g]) or reached_target(games[g])))
    ]


class Slot(msgspec.Struct, frozen=True):
    """A slot freed by a game that reached its target, with that game's settings."""

    game: str = msgspec.field(name="from")  # kept as "from": the name older agents wrote
    settings: Settings


@dataclass
class Queue:
    """Waiting games in order, and slots freed by finished games not yet refilled."""

    waiting: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # slots already handed on
    free_slots: list[Slot] = field(default_factory=list)

    def reset(self, waiting: list[str], games: dict[str, GameState]) -> None:
        """A new order (from a profile); games already finished free no slot now."""
        self.waiting = list(waiting)
        self.finished = [n for n, s in games.items() if reached_target(s)]
        self.free_slots = []

    def collect(self, games: dict[str, GameState]) -> list[str]:
        """Note games that reached their target since the last call; returns them."""
        new = [n for n, s in games.items() if reached_target(s) and n not in self.finished]
        for name in new:
            self.finished.append(name)
            self.waiting = [g for g in self.waiting if g != name]
            if games[name].wanted:
                settings = dict(games[name].settings)
                self.free_slots.append(Slot(name, settings))
        return new

    def next_start(self, games: dict[str, GameState]) -> tuple[str, Slot] | None:
        """The next (game, slot) to start, removed from the queue; None when nothing
        waits or no slot is free. Call `put_back` if it could not start."""
        self.waiting = [g for g in self.waiting if not _taken(games.get(g))]
        if not self.waiting or not self.free_slots:
            return None
        return self.waiting.pop(0), self.free_slots.pop(0)

    def put_back(self, game: str, slot: Slot) -> None:
        """Undo `next_start` (the guard refused it); it is retried on a later tick."""
        self.waiting.insert(0, game)
        self.free_slots.insert(0, slot)


def _taken(state: GameState | None) -> bool:
    return state is not None and (is_active(state) or reached_target(state))
