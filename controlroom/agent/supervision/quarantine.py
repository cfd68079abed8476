"""Stored game settings that fail validation, found on start and set aside.

An older agent (or a hand-edited store) may hold a setting that config.toml would refuse:
NaN, 1e999, a negative seed. Loaded as is, it would restart a trainer into a crash loop
or make every snapshot unsendable, locking every client out. On start each bad row is
repaired instead: each bad setting takes the config's value, the game is stopped (not
wanted) until someone starts it again, and an `error` event says what and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controlroom.agent.errors import OpError
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision.launch import check_game, validate
from controlroom.config import (
    SETTING_SECTIONS,
    Config,
    ConfigError,
    Settings,
    check_value,
    shape_problem,
)

SHAPE = ("num_envs", "num_steps", "minibatch_size")


@dataclass(frozen=True)
class Quarantined:
    """One game set aside: why, and the settings it now has."""

    game: str
    problems: list[str]
    settings: Settings

    def message(self) -> str:
        """The event's line."""
        return (
            f"{self.game}: stored settings refused ({'; '.join(self.problems)}); "
            "replaced by the config's values and the game stopped: start it to run again"
        )


def quarantine(store: Store, cfg: Config) -> list[Quarantined]:
    """Repair every stored game whose settings fail validation; what was repaired."""
    # Read the raw text: a row that is not JSON at all must not stop the agent either.
    rows = store.db.execute("SELECT name, settings FROM games").fetchall()
    out = []
    for name, text in rows:
        found = _inspect(cfg, str(name), text)
        if found is not None:
            store.put_game(found.game, False, found.settings)
            out.append(found)
    return out


def _inspect(cfg: Config, name: str, text: Any) -> Quarantined | None:
    try:
        stored = json.loads(text)
    except (TypeError, ValueError):
        stored = None
    if not isinstance(stored, dict):
        return Quarantined(name, ["not a JSON object"], cfg.game_settings(name))
    try:
        check_game(name)
        validate(stored)
        return None
    except OpError as exc:
        first = exc.message
    settings, problems = repaired(cfg, name, stored)
    return Quarantined(name, problems or [first], settings)


def repaired(cfg: Config, name: str, stored: Settings) -> tuple[Settings, list[str]]:
    """The stored settings with each invalid one replaced by the config's, and what was."""
    out = cfg.game_settings(name)
    problems = []
    for key in (*SETTING_SECTIONS, "env_id"):
        if key not in stored:
            continue
        problem = _problem(key, stored[key], out[key])
        if problem is None:
            out[key] = stored[key]
        else:
            problems.append(problem)
    if shape_problem(*(out[k] for k in SHAPE)) is not None:
        defaults = cfg.game_settings(name)
        problems.append(
            f"minibatch_size {out['minibatch_size']} does not divide "
            f"{out['num_envs']}*{out['num_steps']}: config's shape instead"
        )
        out.update({k: defaults[k] for k in SHAPE})
    return out, problems


def _problem(key: str, value: Any, default: Any) -> str | None:
    if key == "env_id":
        return None if value == default else f"env_id {str(value)[:60]!r} -> {default!r}"
    try:
        check_value(SETTING_SECTIONS[key], key, value)
    except ConfigError as exc:
        return f"{exc} -> {default!r}"
    return None
