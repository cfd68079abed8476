"""The trainer's settings: one typed dataclass whose field help is the `--help`."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from controlroom import games
from controlroom.games import ATARI_GAMES
from controlroom.threadenv import AUTO_THREADS_ENV

__all__ = [
    "ATARI_GAMES",
    "CLASSIC_ENVS",
    "SettingsError",
    "TrainerSettings",
    "build_parser",
    "check_run_dir",
    "known_env_ids",
    "make_settings",
    "parse_overrides",
    "validate",
]

CLASSIC_ENVS = tuple(games.CLASSIC_GAMES.values())
MAX_HEARTBEAT_S = 10.0
# The same ceilings as config.py's (MAX_ENVS, MAX_STEPS, MAX_SEED), so nothing the agent
# may launch is refused here, and a typo's extra zeros never reach envpool or torch.
MAX_ENVS, MAX_STEPS = 4096, 8192
MAX_BATCH = MAX_ENVS * MAX_STEPS
MAX_SEED = 2**31 - 1
WEEK_S = 7 * 86_400.0


class SettingsError(ValueError):
    """A setting is unusable; the CLI prints it and exits 2 before any work."""


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainerSettings:
    """Everything one training run needs; stored in every checkpoint."""

    game: str = _opt(
        "Pong",
        "game: a short Atari name (Pong, BattleZone, ...: every Atari game "
        "envpool ships), an envpool id (Pong-v5), or CartPole-v1 (MLP, for a "
        "quick CPU check); the list is controlroom/games.py",
    )
    num_envs: int = _opt(8, "parallel envpool environments")
    num_steps: int = _opt(128, "steps per environment per rollout; batch = num_envs x num_steps")
    minibatch_size: int = _opt(
        256, "samples per gradient step (the log's 'batch size'); must divide num_envs x num_steps"
    )
    total_steps: int = _opt(
        0,
        "stop after this many environment steps (0 = no step budget; "
        "10,000,000 when no --target-episodes is given either); "
        "also the length of the learning-rate annealing",
    )
    target_episodes: int = _opt(0, "stop once this many real game-overs are counted (0 = none)")
    seed: int = _opt(1, "seed for torch, numpy and the environments")
    device: str = _opt("auto", "auto | cpu | cuda | cuda:N (auto = CUDA when present)")
    torch_threads: int = _opt(
        0,
        "torch intra-op CPU threads (0 = $CONTROLROOM_TORCH_THREADS, which the agent sets "
        "to its share of the host's cores, else torch's default: every core)",
    )
    envpool_threads: int = _opt(
        0,
        "envpool worker threads, at most num_envs (0 = $CONTROLROOM_ENVPOOL_THREADS, which "
        "the agent sets as above, else envpool's default: a thread per core)",
    )
    run_dir: str = _opt("", "where metrics.jsonl and checkpoints/ go (default runs/<game>)")
    resume: bool = _opt(
        False,
        "continue from the newest good checkpoint in run_dir; flags given "
        "on the command line override the checkpoint's settings",
    )
    checkpoint_interval: float = _opt(60.0, "seconds between checkpoints")
    keep_checkpoints: int = _opt(3, "how many of the newest checkpoints to keep")
    gpu_memory_fraction: float = _opt(
        0.0,
        "cap on this process's share of GPU memory, so "
        "several trainers share one GPU (0 = no cap; no-op on CPU)",
    )
    tensorboard: bool = _opt(
        False,
        "also write TensorBoard event files to run_dir/tensorboard (needs the tensorboard extra)",
    )
    heartbeat_interval: float = _opt(
        5.0, "seconds between heartbeat lines in metrics.jsonl (at most 10)"
    )
    collective_timeout: float = _opt(
        1800.0,
        "seconds a rank of a multi-rank job (torchrun) waits in a collective for the others "
        "before it fails (torch's default; longer than the agent's hang timeout, so a hung "
        "rank is caught as a hang of the job first)",
    )
    metrics_segment_mb: float = _opt(
        4.0,
        "metrics.jsonl is rotated to metrics.1.jsonl at this "
        "size (MiB); 2 old segments and a thinned "
        "metrics.history.jsonl are kept",
    )
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
    grad_chunk_size: int = _opt(
        0,
        "most samples pushed through the network at once; larger "
        "minibatches accumulate gradients over chunks (same update, "
        "less memory; 0 = auto: 256 on CPU, whole minibatch on CUDA)",
    )

    @property
    def env_id(self) -> str:
        """The envpool task id from the catalogue: short Atari names map to '<Name>-v5'."""
        known = games.env_id_for(self.game)
        if known:
            return known
        return self.game if "-v" in self.game else f"{self.game}-v5"

    @property
    def is_atari(self) -> bool:
        """Whether the game uses the Atari pipeline (CNN, frame stack, episodic life)."""
        return games.is_atari(self.env_id)

    @property
    def batch_size(self) -> int:
        """Samples per rollout."""
        return self.num_envs * self.num_steps

    @property
    def run_path(self) -> Path:
        """The run directory, defaulting to runs/<game>."""
        return Path(self.run_dir or f"runs/{self.game}")

    def threads(self, name: str) -> int:
        """The thread count to use for `name` ("torch_threads" or "envpool_threads"): the
        setting when given, else the agent's share from the environment (AUTO_THREADS_ENV),
        else 0 (the library's default). The share travels in the environment, not in a
        flag, so a trainer's command line (what the agent adopts it by) stays the same
        when the number of games on the host changes."""
        value: int = getattr(self, name)
        if value:
            return value
        given = os.environ.get(AUTO_THREADS_ENV[name], "")
        return int(given) if given.isdigit() else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and checkpoint-safe copy."""
        return dataclasses.asdict(self)


def known_env_ids() -> list[str]:
    """Every envpool id this trainer accepts: the one catalogue, controlroom/games.py."""
    return games.known_env_ids()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so a bad flag is one stderr line
    (the agent shows a trainer's last line) and exit 2, like every other bad setting."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser generated from the dataclass; defaults are suppressed so that
    only flags the user typed show up (they override a resumed checkpoint's settings)."""
    parser = _Parser(
        prog="python -m controlroom.trainer",
        description="PPO (CleanRL ppo_atari_envpool) for one envpool game, with atomic "
        "checkpoints, exact resume and live metrics.",
        argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in dataclasses.fields(TrainerSettings):
        help_text = f"{f.metadata['help']} (default: {f.default!r})"
        if f.type in (bool, "bool"):
            parser.add_argument(
                _flag(f.name), action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            parser.add_argument(_flag(f.name), type=_PARSERS[str(f.type)], help=help_text)
    return parser


_PARSERS: dict[str, Any] = {"int": int, "float": float, "str": str}


def parse_overrides(argv: list[str] | None) -> dict[str, Any]:
    """The settings the user typed, as a dict; SettingsError on a malformed flag."""
    return vars(build_parser().parse_args(argv))


def make_settings(values: dict[str, Any]) -> TrainerSettings:
    """Build and validate settings from a dict (flags merged over a checkpoint's)."""
    names = {f.name for f in dataclasses.fields(TrainerSettings)}
    settings = TrainerSettings(**{k: v for k, v in values.items() if k in names})
    _check_types(settings)
    if settings.total_steps == 0 and settings.target_episodes == 0:
        settings.total_steps = 10_000_000
    validate(settings)
    return settings


def _check_types(s: TrainerSettings) -> None:
    # Values can come from a checkpoint's settings dict as well as from argparse.
    for f in dataclasses.fields(s):
        value, kind = getattr(s, f.name), str(f.type)
        ok = {
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
        }[kind]
        if not ok:
            raise SettingsError(f"{_flag(f.name)} must be a {kind}, got {value!r}")


# Inclusive numeric ranges; an exclusive lower bound is marked by a `>` in the message.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "num_envs": (1, MAX_ENVS),
    "num_steps": (1, MAX_STEPS),
    "minibatch_size": (1, MAX_BATCH),
    "update_epochs": (1, 1000),
    "keep_checkpoints": (1, 1000),
    "total_steps": (0, 10**15),
    "target_episodes": (0, 10**12),
    "seed": (0, MAX_SEED),
    "torch_threads": (0, 1024),
    "envpool_threads": (0, 1024),
    "grad_chunk_size": (0, MAX_BATCH),
}
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {  # (low, high, low is exclusive)
    "checkpoint_interval": (0.0, WEEK_S, True),
    "heartbeat_interval": (0.0, MAX_HEARTBEAT_S, True),
    "collective_timeout": (0.0, WEEK_S, True),
    "metrics_segment_mb": (0.0, 4096.0, True),
    "learning_rate": (0.0, 1.0, True),
    "gpu_memory_fraction": (0.0, 1.0, False),
    "gamma": (0.0, 1.0, False),
    "gae_lambda": (0.0, 1.0, False),
    "clip_coef": (0.0, 100.0, True),
    "ent_coef": (0.0, 100.0, False),
    "vf_coef": (0.0, 100.0, False),
    "max_grad_norm": (0.0, 1e6, True),
    "target_kl": (0.0, 100.0, False),
}


def validate(s: TrainerSettings) -> None:
    """Raise SettingsError for settings that would fail later or silently misbehave."""
    if s.env_id not in known_env_ids():
        raise SettingsError(
            f"unknown game {s.game!r}{games.suggest(s.game)}; the trainer "
            f"knows the {len(ATARI_GAMES)} Atari games envpool ships (Pong, "
            "Breakout, ...: controlroom/games.py) and CartPole-v1"
        )
    _check_ranges(s)
    if s.batch_size % s.minibatch_size:
        raise SettingsError(
            f"--minibatch-size {s.minibatch_size} does not divide the batch "
            f"num_envs x num_steps = {s.batch_size}"
        )
    _check_device(s.device)


def _check_ranges(s: TrainerSettings) -> None:
    for name, (lo, hi) in _INT_RANGES.items():
        value = getattr(s, name)
        if value < lo:
            raise SettingsError(f"{_flag(name)} must be >= {lo}, got {value}")
        if value > hi:
            raise SettingsError(f"{_flag(name)} must be <= {hi}, got {value}")
    for name, (flo, fhi, open_low) in _FLOAT_RANGES.items():
        x = float(getattr(s, name))
        if not (math.isfinite(x) and (flo < x if open_low else flo <= x) and x <= fhi):
            low = f"({flo:g}" if open_low else f"[{flo:g}"
            raise SettingsError(f"{_flag(name)} must be in {low}, {fhi:g}], got {x}")


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
