"""The trainer's settings: one typed dataclass whose field help is the `--help`."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ATARI_GAMES = (
    "MsPacman", "BeamRider", "Asteroids", "Enduro", "Pong",
    "Freeway", "SpaceInvaders", "Seaquest", "Breakout",
)
CLASSIC_ENVS = ("CartPole-v1",)
MAX_HEARTBEAT_S = 10.0


class SettingsError(ValueError):
    """A setting is unusable; the CLI prints it and exits 2 before any work."""


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainerSettings:
    """Everything one training run needs; stored in every checkpoint."""

    game: str = _opt("Pong", "game: a short Atari name (Pong), an envpool id (Pong-v5), "
                     "or CartPole-v1 (MLP, for a quick CPU check)")
    num_envs: int = _opt(8, "parallel envpool environments")
    num_steps: int = _opt(128, "steps per environment per rollout; batch = num_envs x num_steps")
    minibatch_size: int = _opt(256, "samples per gradient step (the log's 'batch size'); "
                               "must divide num_envs x num_steps")
    total_steps: int = _opt(0, "stop after this many environment steps (0 = no step budget; "
                            "10,000,000 when no --target-episodes is given either); "
                            "also the length of the learning-rate annealing")
    target_episodes: int = _opt(0, "stop once this many real game-overs are counted (0 = none)")
    seed: int = _opt(1, "seed for torch, numpy and the environments")
    device: str = _opt("auto", "auto | cpu | cuda | cuda:N (auto = CUDA when present)")
    torch_threads: int = _opt(0, "torch intra-op CPU threads (0 = torch's default)")
    run_dir: str = _opt("", "where metrics.jsonl and checkpoints/ go (default runs/<game>)")
    resume: bool = _opt(False, "continue from the newest good checkpoint in run_dir; flags given "
                        "on the command line override the checkpoint's settings")
    checkpoint_interval: float = _opt(60.0, "seconds between checkpoints")
    keep_checkpoints: int = _opt(3, "how many of the newest checkpoints to keep")
    gpu_memory_fraction: float = _opt(0.0, "cap on this process's share of GPU memory, so "
                                      "several trainers share one GPU (0 = no cap; no-op on CPU)")
    tensorboard: bool = _opt(False, "also write TensorBoard event files to run_dir/tensorboard "
                             "(needs the tensorboard extra)")
    heartbeat_interval: float = _opt(5.0, "seconds between heartbeat lines in metrics.jsonl "
                                     "(at most 10)")
    learning_rate: float = _opt(2.5e-4, "Adam learning rate at step 0")
    anneal_lr: bool = _opt(True, "anneal the learning rate linearly to 0 at total_steps")
    gamma: float = _opt(0.99, "discount factor")
    gae_lambda: float = _opt(0.95, "GAE lambda")
    update_epochs: int = _opt(4, "passes over each rollout")
    norm_adv: bool = _opt(True, "normalise advantages per minibatch")
    clip_coef: float = _opt(0.1, "PPO surrogate clipping coefficient")
    clip_vloss: bool = _opt(True, "clip the value loss as in PPO's reference code")
    ent_coef: float = _opt(0.01, "entropy bonus coefficient")
    vf_coef: float = _opt(0.5, "value loss coefficient")
    max_grad_norm: float = _opt(0.5, "gradient norm clip")
    target_kl: float = _opt(0.0, "stop an update's epochs early above this approx KL (0 = off)")
    grad_chunk_size: int = _opt(0, "most samples pushed through the network at once; larger "
                                "minibatches accumulate gradients over chunks (same update, "
                                "less memory; 0 = auto: 256 on CPU, whole minibatch on CUDA)")

    @property
    def env_id(self) -> str:
        """The envpool task id: short Atari names map to '<Name>-v5'."""
        return self.game if "-v" in self.game else f"{self.game}-v5"

    @property
    def is_atari(self) -> bool:
        """Whether the game uses the Atari pipeline (CNN, frame stack, episodic life)."""
        return self.env_id not in CLASSIC_ENVS

    @property
    def batch_size(self) -> int:
        """Samples per rollout."""
        return self.num_envs * self.num_steps

    @property
    def run_path(self) -> Path:
        """The run directory, defaulting to runs/<game>."""
        return Path(self.run_dir or f"runs/{self.game}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and checkpoint-safe copy."""
        return dataclasses.asdict(self)


def known_env_ids() -> list[str]:
    """Every envpool id this trainer accepts."""
    return [f"{g}-v5" for g in ATARI_GAMES] + list(CLASSIC_ENVS)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser generated from the dataclass; defaults are suppressed so that
    only flags the user typed show up (they override a resumed checkpoint's settings)."""
    parser = argparse.ArgumentParser(
        prog="python -m controlroom.trainer",
        description="PPO (CleanRL ppo_atari_envpool) for one envpool game, with atomic "
        "checkpoints, exact resume and live metrics.",
        argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in dataclasses.fields(TrainerSettings):
        help_text = f"{f.metadata['help']} (default: {f.default!r})"
        if f.type in (bool, "bool"):
            parser.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction,
                                help=help_text)
        else:
            parser.add_argument(_flag(f.name), type=_PARSERS[str(f.type)], help=help_text)
    return parser


_PARSERS: dict[str, Any] = {"int": int, "float": float, "str": str}


def parse_overrides(argv: list[str] | None) -> dict[str, Any]:
    """The settings the user typed, as a dict (argparse exits 2 on malformed flags)."""
    return vars(build_parser().parse_args(argv))


def make_settings(values: dict[str, Any]) -> TrainerSettings:
    """Build and validate settings from a dict (flags merged over a checkpoint's)."""
    names = {f.name for f in dataclasses.fields(TrainerSettings)}
    settings = TrainerSettings(**{k: v for k, v in values.items() if k in names})
    if settings.total_steps == 0 and settings.target_episodes == 0:
        settings.total_steps = 10_000_000
    validate(settings)
    return settings


def validate(s: TrainerSettings) -> None:
    """Raise SettingsError for settings that would fail later or silently misbehave."""
    if s.env_id not in known_env_ids():
        raise SettingsError(f"unknown game {s.game!r}; known: {', '.join(known_env_ids())}")
    _check_positive(s)
    if s.batch_size % s.minibatch_size:
        raise SettingsError(
            f"--minibatch-size {s.minibatch_size} does not divide the batch "
            f"num_envs x num_steps = {s.batch_size}")
    if not 0 < s.heartbeat_interval <= MAX_HEARTBEAT_S:
        raise SettingsError(f"--heartbeat-interval must be in (0, {MAX_HEARTBEAT_S:g}] seconds")
    if not 0.0 <= s.gpu_memory_fraction <= 1.0:
        raise SettingsError("--gpu-memory-fraction must be in [0, 1]")
    _check_device(s.device)


def _check_positive(s: TrainerSettings) -> None:
    for name in ("num_envs", "num_steps", "minibatch_size", "update_epochs", "keep_checkpoints"):
        if getattr(s, name) < 1:
            raise SettingsError(f"{_flag(name)} must be >= 1, got {getattr(s, name)}")
    for name in ("total_steps", "target_episodes", "torch_threads", "grad_chunk_size"):
        if getattr(s, name) < 0:
            raise SettingsError(f"{_flag(name)} must be >= 0, got {getattr(s, name)}")
    if s.checkpoint_interval <= 0 or s.learning_rate <= 0:
        raise SettingsError("--checkpoint-interval and --learning-rate must be > 0")


def _check_device(device: str) -> None:
    if device in ("auto", "cpu", "cuda"):
        return
    prefix, _, index = device.partition(":")
    if prefix != "cuda" or not index.isdigit():
        raise SettingsError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")


def check_run_dir(path: Path) -> None:
    """Fail early when the run dir cannot hold checkpoints and metrics."""
    try:
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create run dir {path}: {exc.strerror}") from exc
    if not os.access(path, os.W_OK) or not os.access(path / "checkpoints", os.W_OK):
        raise SettingsError(f"run dir {path} is not writable")
