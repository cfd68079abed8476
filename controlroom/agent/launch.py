"""A game's effective settings, checked, and the argument list that starts its trainer.

Settings start from the config (`Config.game_settings`) and take a client's overrides.
The built-in trainer is the default; a `command` template from the config runs instead,
each argument formatted on its own (no shell ever sees it).
"""

from __future__ import annotations

import string
import sys
from pathlib import Path
from typing import Any

from controlroom.agent.errors import OpError
from controlroom.config import Config
from controlroom.games import env_id_for, known_names, suggest

# Overrides a client may send, with their types. `command` is deliberately absent: what
# runs on the host is chosen in the host's config file, not over the socket.
OVERRIDES: dict[str, tuple[type, ...]] = {
    "num_envs": (int,), "num_steps": (int,), "minibatch_size": (int,),
    "target_episodes": (int,), "seed": (int,), "device": (str,), "torch_threads": (int,),
    "gpu_memory_fraction": (int, float), "checkpoint_interval_s": (int, float),
    "keep_checkpoints": (int,),
}  # fmt: skip
PLACEHOLDERS = ("game", "env_id", "num_envs", "num_steps", "minibatch_size", "run_dir",
                "seed", "target_episodes", "device")  # fmt: skip
TOTAL_STEPS = 10**12  # the episode target ends a run, not a step budget


def check_game(game: str) -> str:
    """The env id of a known game, else an unknown_game OpError."""
    env_id = env_id_for(game)
    if env_id is None:
        raise OpError("unknown_game",
                      f"unknown game {game!r}{suggest(game)}; known: {', '.join(known_names())}")
    return env_id


def effective_settings(cfg: Config, game: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Config settings for `game` with `overrides` on top, validated (OpError otherwise)."""
    check_game(game)
    settings = cfg.game_settings(game)
    check_overrides(overrides)
    settings.update(overrides)
    validate(settings)
    return settings


def check_overrides(overrides: dict[str, Any]) -> None:
    """Refuse a setting a client may not set, or one of the wrong type (OpError)."""
    for key, value in overrides.items():
        types_ = OVERRIDES.get(key)
        if types_ is None:
            raise OpError("invalid", f"unknown setting {key!r}; known: {', '.join(OVERRIDES)}")
        if isinstance(value, bool) or not isinstance(value, types_):
            raise OpError("invalid", f"{key} must be {' or '.join(t.__name__ for t in types_)}")


def validate(s: dict[str, Any]) -> None:
    """Raise OpError("invalid") for numbers a trainer would refuse."""
    for key in ("num_envs", "num_steps", "minibatch_size", "target_episodes", "keep_checkpoints"):
        if s[key] < 1:
            raise OpError("invalid", f"{key} is {s[key]}; must be >= 1")
    batch = s["num_envs"] * s["num_steps"]
    if s["minibatch_size"] > batch or batch % s["minibatch_size"]:
        raise OpError("invalid", f"minibatch_size {s['minibatch_size']} must divide "
                      f"num_envs*num_steps = {s['num_envs']}*{s['num_steps']} = {batch}")
    if not 0 <= s["gpu_memory_fraction"] <= 1:
        raise OpError("invalid", "gpu_memory_fraction must be in 0..1")
    if s["checkpoint_interval_s"] <= 0 or s["torch_threads"] < 0:
        raise OpError("invalid", "checkpoint_interval_s must be > 0 and torch_threads >= 0")
    device, _, index = str(s["device"]).partition(":")
    if device not in ("auto", "cpu", "cuda") or (index and not index.isdigit()):
        raise OpError("invalid", f"device must be auto, cpu, cuda or cuda:N, not {s['device']!r}")


def trainer_argv(game: str, s: dict[str, Any], run_dir: Path) -> list[str]:
    """The command line for this game: the built-in trainer or the configured template."""
    if s.get("command"):
        return format_command(s["command"], placeholders(game, s, run_dir))
    return [
        sys.executable, "-m", "controlroom.trainer", "--game", s["env_id"],
        "--num-envs", str(s["num_envs"]), "--num-steps", str(s["num_steps"]),
        "--minibatch-size", str(s["minibatch_size"]), "--total-steps", str(TOTAL_STEPS),
        "--target-episodes", str(s["target_episodes"]), "--run-dir", str(run_dir),
        "--resume", "--seed", str(s["seed"]), "--device", str(s["device"]),
        "--torch-threads", str(s["torch_threads"]),
        "--gpu-memory-fraction", str(s["gpu_memory_fraction"]),
        "--checkpoint-interval", str(s["checkpoint_interval_s"]),
        "--keep-checkpoints", str(s["keep_checkpoints"]),
    ]  # fmt: skip


def placeholders(game: str, s: dict[str, Any], run_dir: Path) -> dict[str, str]:
    """The values a command template may use."""
    values = {key: str(s[key]) for key in PLACEHOLDERS if key in s}
    return values | {"game": game, "run_dir": str(run_dir)}


def format_command(template: list[str], values: dict[str, str]) -> list[str]:
    """Fill each argument's {placeholders}; an unknown one is an `invalid` OpError."""
    out = []
    for arg in template:
        for _, name, spec, conv in string.Formatter().parse(arg):
            if name is not None and (name not in values or spec or conv):
                raise OpError("invalid", f"command template {arg!r}: unknown placeholder "
                              f"{{{name}}}; known: {', '.join(PLACEHOLDERS)}")
        out.append(arg.format_map(values))
    return out


def check_template(template: list[str]) -> None:
    """Refuse a template with unknown placeholders before anything starts."""
    format_command(template, dict.fromkeys(PLACEHOLDERS, "x"))
