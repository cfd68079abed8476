"""A game's effective settings, checked, and the argument list that starts its trainer.

Settings start from the config (`Config.game_settings`) and take a client's overrides.
The built-in trainer is the default; a `command` template from the config runs instead,
each argument formatted on its own (no shell ever sees it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from controlroom.agent.errors import OpError
from controlroom.agent.supervision import spannet
from controlroom.agent.supervision.job import TRAINER_MODULE, torchrun_argv
from controlroom.config import (
    CLIENT_SETTINGS,
    PLACEHOLDERS,
    SETTING_SECTIONS,
    AgentConfig,
    Config,
    ConfigError,
    Settings,
    check_value,
    command_problem,
    settings_problem,
)
from controlroom.games import env_id_for, known_names, suggest
from controlroom.gpus import world_size
from controlroom.span import Span

# What a client may set (config.CLIENT_SETTINGS): a game's settings but `command`.
OVERRIDES = CLIENT_SETTINGS
__all__ = [
    "OVERRIDES",
    "PLACEHOLDERS",
    "check_game",
    "check_overrides",
    "check_template",
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
    (wrong type, out of range, NaN): OpError("invalid") naming the key. For a partial
    set (a migration's changes); whole settings go through `validate`."""
    for key, value in overrides.items():
        if key not in OVERRIDES:
            raise OpError("invalid", f"unknown setting {key!r}; known: {', '.join(OVERRIDES)}")
        try:
            check_value(SETTING_SECTIONS[key], key, value)
        except ConfigError as exc:
            raise OpError("invalid", str(exc)) from None


def validate(s: Settings) -> None:
    """OpError("invalid") unless `s` is a whole, valid set of a game's settings: the
    one check (config.settings_problem) every path giving a game settings passes, the
    supervisor's `want` last of all, so a path that forgot it is refused there too."""
    problem = settings_problem(s)
    if problem is not None:
        raise OpError("invalid", problem)


def trainer_argv(
    game: str,
    s: Settings,
    run_dir: Path,
    *,
    stop_grace_s: float = AgentConfig.stop_grace_s,
    local_addr: str | None = None,
) -> list[str]:
    """The command line for this game: the built-in trainer, as a torchrun job when the
    game asks for several GPUs (job.py; its ranks get less than the agent's
    `stop_grace_s` to stop), or the configured template. A part of a job over several
    hosts is known to the others by `local_addr` (spannet.probe found it; by default
    found from a numeric rendezvous address, without DNS)."""
    if s.get("command"):
        return format_command(s["command"], placeholders(game, s, run_dir))
    flags = _trainer_flags(s, run_dir)
    span, ranks = Span.of(s), world_size(s)
    if span.spans:
        here = local_addr or spannet.local_address(span)
        return torchrun_argv(ranks, flags, span, here, stop_grace_s=stop_grace_s)
    if ranks > 1:
        return torchrun_argv(ranks, flags, stop_grace_s=stop_grace_s)
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
        "--envpool-threads",  # 0 (auto): the agent's share comes in the environment
        str(s.get("envpool_threads", 0)),
        "--gpu-memory-fraction",
        str(s["gpu_memory_fraction"]),
        "--checkpoint-interval",
        str(s["checkpoint_interval_s"]),
        "--keep-checkpoints",
        str(s["keep_checkpoints"]),
    ]


def trainer_env(
    gpus: Sequence[int], span: Span | None = None, local_addr: str | None = None
) -> dict[str, str]:
    """What a trainer's environment gets on top of the agent's: the GPUs it was placed
    on, which it sees as cuda:0, cuda:1, ... Numbered as NVML numbers them (PCI bus
    order; CUDA's own default order may differ), so GPU 3 in the gauges is GPU 3 here.
    Nothing when not placed (no GPU: the trainer runs on the CPU). A job over several
    hosts adds its node rank and the network interface its ranks talk on (spannet: the
    one holding `local_addr`)."""
    env = spannet.job_env(span, local_addr) if span is not None and span.spans else {}
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
