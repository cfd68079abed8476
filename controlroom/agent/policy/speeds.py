"""Measured speeds per game and settings: what the plan screen compares profiles with.

The log guessed "Medium: est. 800-1000 eps/hr"; this book remembers what each game
actually did under each (num_envs, num_steps, minibatch_size), so a profile's row is
measured wherever the host has run those settings once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from controlroom.agent.policy.figures import shape
from controlroom.config import Settings
from controlroom.protocol import GameState


def key(game: str, settings: Settings) -> str:
    """The book's key: game and shape."""
    envs, steps, mb = shape(settings)
    return f"{game}|{envs}|{steps}|{mb}"


@dataclass(frozen=True)
class Speed:
    """One measurement: the newest figures seen for a game at one shape."""

    episodes_per_hour: float
    sps: float
    gpu_memory_used: int | None
    gpu_temp_c: float | None
    time: float


class SpeedBook:
    """Newest measured speed per (game, shape), kept in the agent's kv store."""

    def __init__(self, speeds: dict[str, Speed] | None = None) -> None:
        self._speeds: dict[str, Speed] = dict(speeds or {})

    @classmethod
    def load(cls, raw: Any) -> SpeedBook:
        """From kv_get's JSON (None: an empty book); an entry this agent cannot read
        is dropped, the rest kept: a speed is measured again within minutes."""
        book = cls()
        for k, entry in (raw if isinstance(raw, dict) else {}).items():
            try:
                book._speeds[k] = msgspec.convert(entry, Speed)
            except msgspec.ValidationError:
                continue
        return book

    def dump(self) -> Any:
        """For kv_set."""
        return msgspec.to_builtins(self._speeds)

    def record(self, game: str, settings: Settings, speed: Speed) -> None:
        """Keep the newest positive measurement."""
        if speed.episodes_per_hour > 0 or speed.sps > 0:
            self._speeds[key(game, settings)] = speed

    def lookup(self, game: str, settings: Settings) -> Speed | None:
        """The measurement for this game at this shape, if any."""
        return self._speeds.get(key(game, settings))


def speed_from_game(game_state: GameState, temp_c: float | None) -> Speed | None:
    """A measurement from a protocol GameState, when its trainer reports a rate."""
    m = game_state.metrics or {}
    eph, sps = m.get("episodes_per_hour"), m.get("sps")
    if not eph and not sps:
        return None
    return Speed(
        float(eph or 0.0),
        float(sps or 0.0),
        game_state.gpu_memory_used,
        temp_c,
        float(m.get("time") or 0.0),
    )
