"""A game's effective settings, checked, and the argument list that starts its trainer.

Settings start from the config (`Config.game_settings`) and take a client's overrides.
The built-in trainer is the default; a `command` template from the config runs instead,
each argument formatted on its own (no shell ever sees it).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controlroom.agent.errors import OpError
from controlroom.agent.supervision import spannet
from controlroom.agent.supervision.job import TRAINER_MODULE, torchrun_argv
from controlroom.config import (
    PLACEHOLDERS,
    Config,
    ConfigError,
    GameConfig,
    Settings,
    TrainerDefaults,
    check_value,
    command_problem,
    shape_problem,
    span_problem,
)
from controlroom.games import env_id_for, known_names, suggest
from controlroom.gpus import world_size
from controlroom.span import SPAN_KEYS, Span

# A game's settings, each with the config section that declares its type and bounds:
# what a client sends, what the store holds and what config.toml says all pass the
# same check (config.check_value).
SETTINGS: dict[str, type[Any]] = {
    **{f.name: TrainerDefaults for f in dataclasses.fields(TrainerDefaults)},
    **dict.fromkeys(("target_episodes", *SPAN_KEYS), GameConfig),
}
# Overrides a client may send. `command` is deliberately absent: what runs on the host
# is chosen in the host's config file, not over the socket.
OVERRIDES: dict[str, type[Any]] = {k: v for k, v in SETTINGS.items() if k != "command"}
__all__ = [
    "OVERRIDES",
    "PLACEHOLDERS",
    "SETTINGS",
    "check_game",
    "check_overrides",
    "check_template",
    "check_whole",
    "effective_settings",
    "format_command",
    "trainer_argv",
    "trainer_env",
    "validate",
]
TOTAL_STEPS = 10**12  # the episode target ends a run, not a step budget


def check_game(game: str) -> str:
    """The env id of a known game, else an unknown_game OpError."""
    env_id = env_id_for(game)
    if env_id is None:
        raise OpError(
            "unknown_game",
            f"unknown game {game!r}{suggest(game)}; known: {', '.join(known_names())}",
        )
    return env_id


def effective_settings(cfg: Config, game: str, overrides: Settings) -> Settings:
    """Config settings for `game` with `overrides` on top, validated (OpError otherwise)."""
    check_game(game)
    settings = cfg.game_settings(game)
    check_overrides(overrides)
    settings.update(overrides)
    validate(settings)
    return settings


def check_overrides(overrides: Settings) -> None:
    """Refuse a setting a client may not set, or a value config.toml would refuse
    (wrong type, out of range, NaN): OpError("invalid") naming the key."""
    for key, value in overrides.items():
        if key not in OVERRIDES:
            raise OpError("invalid", f"unknown setting {key!r}; known: {', '.join(OVERRIDES)}")
        _check(key, value)


def _check(key: str, value: Any) -> None:
    try:
        check_value(SETTINGS[key], key, value)
    except ConfigError as exc:
        raise OpError("invalid", str(exc)) from None


def validate(s: Settings) -> None:
    """Raise OpError("invalid") unless `s` is a whole, valid set of a game's settings:
    each within config.toml's bounds, and whole (check_whole). For settings of unknown
    origin (a stored row, a snapshot); a client's are checked key by key as the request
    is decoded (protocol.check_settings), a config's as it loads."""
    for key in SETTINGS:
        if key in s:
            _check(key, s[key])
    check_whole(s)


def check_whole(s: Settings) -> None:
    """What only the whole set of settings can say, its values each checked already:
    every key present (`command` optional), the minibatch dividing the rollout and the
    env id known. OpError("invalid") otherwise."""
    # `command` may be absent: GameStates leave it out, and empty means built-in. `gpus`
    # and the span may be absent from a game stored before they existed: one GPU, one host.
    optional = ("gpus", *SPAN_KEYS)
    missing = [k for k in (*OVERRIDES, "env_id") if k not in s and k not in optional]
    if missing:
        raise OpError("invalid", f"settings lack {', '.join(missing)}")
    problem = shape_problem(s["num_envs"], s["num_steps"], s["minibatch_size"]) or span_problem(s)
    if problem is not None:
        raise OpError("invalid", f"{problem[0]} {problem[1]}")
    if not isinstance(s["env_id"], str) or env_id_for(s["env_id"]) is None:
        raise OpError("invalid", f"env_id {s['env_id']!r} is not a known game")


def trainer_argv(game: str, s: Settings, run_dir: Path) -> list[str]:
    """The command line for this game: the built-in trainer, as a torchrun job when the
    game asks for several GPUs (job.py), or the configured template."""
    if s.get("command"):
        return format_command(s["command"], placeholders(game, s, run_dir))
    flags = _trainer_flags(s, run_dir)
    span = Span.of(s)
    if span.spans:
        return torchrun_argv(world_size(s), flags, span, spannet.local_address(span))
    if world_size(s) > 1:
        return torchrun_argv(world_size(s), flags)
    return [sys.executable, "-m", TRAINER_MODULE, *flags]


def _trainer_flags(s: Settings, run_dir: Path) -> list[str]:
    return [
        "--game",
        s["env_id"],
        "--num-envs",
        str(s["num_envs"]),
        "--num-steps",
        str(s["num_steps"]),
        "--minibatch-size",
        str(s["minibatch_size"]),
        "--total-steps",
        str(TOTAL_STEPS),
        "--target-episodes",
        str(s["target_episodes"]),
        "--run-dir",
        str(run_dir),
        "--resume",
        "--seed",
        str(s["seed"]),
        "--device",
        str(s["device"]),
        "--torch-threads",
        str(s["torch_threads"]),
        "--gpu-memory-fraction",
        str(s["gpu_memory_fraction"]),
        "--checkpoint-interval",
        str(s["checkpoint_interval_s"]),
        "--keep-checkpoints",
        str(s["keep_checkpoints"]),
    ]


def trainer_env(gpus: Sequence[int], span: Span | None = None) -> dict[str, str]:
    """What a trainer's environment gets on top of the agent's: the GPUs it was placed
    on, which it sees as cuda:0, cuda:1, ... Numbered as NVML numbers them (PCI bus
    order; CUDA's own default order may differ), so GPU 3 in the gauges is GPU 3 here.
    Nothing when not placed (no GPU: the trainer runs on the CPU). A job over several
    hosts adds its node rank and the network interface its ranks talk on (spannet)."""
    env = spannet.job_env(span) if span is not None and span.spans else {}
    if not gpus:
        return env
    devices = ",".join(map(str, gpus))
    return {**env, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": devices}


def placeholders(game: str, s: Settings, run_dir: Path) -> dict[str, str]:
    """The values a command template may use."""
    values = {key: str(s[key]) for key in PLACEHOLDERS if key in s}
    return values | {"game": game, "run_dir": str(run_dir)}


def format_command(template: list[str], values: dict[str, str]) -> list[str]:
    """Fill each argument's {placeholders}; an unknown one is an `invalid` OpError."""
    check_template(template)
    return [arg.format_map(values) for arg in template]


def check_template(template: list[str]) -> None:
    """Refuse a template with unknown placeholders before anything starts."""
    problem = command_problem(template)
    if problem is not None:
        raise OpError("invalid", f"command template: {problem}")
