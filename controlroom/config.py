"""config.toml: one typed, documented model, read strictly and written back losslessly.

The same schema serves both halves: on a GPU host it is the authority for what runs
(games, profiles, guard, ramp, trainer defaults); on a laptop it names the hosts and
holds the keymap. Every field carries its documentation in `doc(...)` metadata, so the
starter file, `config check` and error messages all say the same thing.

Invalid input raises `ConfigError` with one line naming the file, the key, the line
where it can be found and what would be valid. Nothing is ever written on error.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from controlroom.config_schema import (
    ConfigError,
    Located,
    build_section,
    doc,
    to_plain,
)
from controlroom.games import env_id_for, known_names, suggest

__all__ = [
    "AgentConfig",
    "Config",
    "ConfigError",
    "GameConfig",
    "GuardConfig",
    "HostConfig",
    "ProfileConfig",
    "RampConfig",
    "TrainerDefaults",
    "dump",
    "find_config",
    "load",
    "loads",
    "save",
    "starter_text",
]

CONFIG_ENV = "CONTROLROOM_CONFIG"


@dataclass(frozen=True)
class TrainerDefaults:
    """Settings every game starts from; a game or profile may override them."""

    num_envs: int = field(default=8, metadata=doc("parallel environments per game (>= 1)"))
    num_steps: int = field(default=128, metadata=doc("steps per env per PPO rollout"))
    minibatch_size: int = field(
        default=256,
        metadata=doc("PPO minibatch size (the log's 'batch size'); divides num_envs*num_steps"),
    )
    seed: int = field(default=1, metadata=doc("random seed"))
    device: str = field(default="auto", metadata=doc("auto | cpu | cuda | cuda:N"))
    torch_threads: int = field(default=0, metadata=doc("torch CPU threads; 0 = torch's choice"))
    gpu_memory_fraction: float = field(
        default=0.0, metadata=doc("per-trainer cap on the GPU's memory, 0..1; 0 = no cap")
    )
    checkpoint_interval_s: int = field(default=60, metadata=doc("seconds between checkpoints"))
    keep_checkpoints: int = field(default=3, metadata=doc("newest checkpoints kept per game"))
    command: list[str] = field(
        default_factory=list,
        metadata=doc(
            "your own trainer as an argument list (no shell); placeholders {game} {env_id} "
            "{num_envs} {num_steps} {minibatch_size} {run_dir} {seed}; empty = built-in"
        ),
    )


@dataclass(frozen=True)
class GameConfig:
    """One game that may be trained; unset settings come from [trainer]."""

    target_episodes: int = field(default=25_000, metadata=doc("episodes that count as done"))
    env_id: str = field(default="", metadata=doc("envpool task id; default '<Game>-v5'"))
    num_envs: int = field(default=0, metadata=doc("override [trainer].num_envs; 0 = inherit"))
    num_steps: int = field(default=0, metadata=doc("override [trainer].num_steps; 0 = inherit"))
    minibatch_size: int = field(
        default=0, metadata=doc("override [trainer].minibatch_size; 0 = inherit")
    )
    command: list[str] = field(
        default_factory=list, metadata=doc("override [trainer].command for this game")
    )


@dataclass(frozen=True)
class ProfileConfig:
    """A named load: which games run, and with what settings."""

    games: list[str] = field(default_factory=list, metadata=doc("games this profile runs"))
    num_envs: int = field(default=8, metadata=doc("envs per game"))
    minibatch_size: int = field(default=256, metadata=doc("minibatch per game"))
    num_steps: int = field(default=128, metadata=doc("steps per env per rollout"))
    description: str = field(default="", metadata=doc("one line shown in pickers"))


@dataclass(frozen=True)
class RampConfig:
    """Gradual scale-up (the log's Option 3): add a game after a stable window."""

    enabled: bool = field(default=False, metadata=doc("run the ramp unattended"))
    stable_minutes: float = field(default=30.0, metadata=doc("stable minutes before a step"))
    games: list[str] = field(default_factory=list, metadata=doc("games in the order added"))
    start_games: int = field(default=2, metadata=doc("games in the first step"))
    max_games: int = field(default=6, metadata=doc("stop adding at this many games"))
    num_envs: int = field(default=32, metadata=doc("envs per game while ramping"))
    minibatch_size: int = field(default=512, metadata=doc("minibatch per game while ramping"))
    num_steps: int = field(default=128, metadata=doc("steps per env while ramping"))


@dataclass(frozen=True)
class GuardConfig:
    """Budgets a scale-up may not cross; crossing one while running pauses a game."""

    max_gpu_memory_fraction: float = field(
        default=0.5, metadata=doc("share of GPU memory all trainers may use, 0..1")
    )
    max_total_envs: int = field(default=1024, metadata=doc("envs summed over all games"))
    max_trainers: int = field(default=8, metadata=doc("trainer processes at once"))
    max_gpu_temp_c: float = field(default=83.0, metadata=doc("GPU temperature limit, Celsius"))
    max_host_ram_fraction: float = field(default=0.9, metadata=doc("host RAM share, 0..1"))
    action_interval_s: float = field(
        default=15.0,
        metadata=doc("seconds between two pauses or resumes, so memory and heat can move first"),
    )
    resume_hold_s: float = field(
        default=30.0,
        metadata=doc("seconds back under every limit (with margin) before a paused game resumes"),
    )


@dataclass(frozen=True)
class AgentConfig:
    """The host agent's own behaviour."""

    state_dir: str = field(
        default="~/.local/state/controlroom",
        metadata=doc("socket, SQLite store, logs and runs live here"),
    )
    price_per_hour: float = field(default=2.0, metadata=doc("this host's $ per GPU-hour"))
    heartbeat_s: float = field(default=10.0, metadata=doc("seconds between boot heartbeats"))
    telemetry_s: float = field(default=2.0, metadata=doc("seconds between telemetry samples"))
    stop_grace_s: float = field(default=30.0, metadata=doc("SIGTERM to SIGKILL grace"))
    backoff_initial_s: float = field(default=1.0, metadata=doc("first restart delay"))
    backoff_max_s: float = field(default=60.0, metadata=doc("longest restart delay"))
    stable_reset_s: float = field(
        default=300.0, metadata=doc("running this long resets the restart backoff")
    )
    crash_loop_count: int = field(default=5, metadata=doc("crashes that make a crash loop"))
    crash_loop_window_s: float = field(default=600.0, metadata=doc("...within this window"))
    hang_timeout_s: float = field(default=120.0, metadata=doc("silent metrics = hung trainer"))
    snapshot_retention: int = field(default=3, metadata=doc("migration snapshots kept per game"))
    max_events: int = field(
        default=50_000, metadata=doc("newest events kept in the event log (older ones pruned)")
    )


@dataclass(frozen=True)
class HostConfig:
    """A GPU host reached over SSH."""

    ssh_alias: str = field(default="", metadata=doc("Host alias in ~/.ssh/config"))
    state_dir: str = field(
        default="~/.local/state/controlroom", metadata=doc("the agent's state dir there")
    )
    price_per_gpu_hour: float = field(default=2.0, metadata=doc("what the host costs, $/hour"))
    python: str = field(default="python3", metadata=doc("python used to install the agent"))
    controlroom: str = field(
        default="~/.local/share/controlroom/venv/bin/controlroom",
        metadata=doc("the controlroom command on that host (installed by --install); its "
                     "venv is two folders up (.../venv/bin/controlroom -> .../venv)"),
    )
    pip_args: list[str] = field(
        default_factory=list,
        metadata=doc("extra `pip install` arguments for --install, e.g. [\"--find-links\", "
                     "\"/wheels\", \"--no-index\"] for a host without PyPI"),
    )
    system_site_packages: bool = field(
        default=False,
        metadata=doc("create the agent's venv with --system-site-packages, so a torch already "
                     "installed on the host is used instead of downloaded"),
    )


@dataclass(frozen=True)
class Config:
    """The whole file."""

    trainer: TrainerDefaults = field(default_factory=TrainerDefaults)
    games: dict[str, GameConfig] = field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    ramp: RampConfig = field(default_factory=RampConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)
    source: str = field(default="<defaults>", compare=False, metadata={"internal": True})

    def game_settings(self, game: str) -> dict[str, Any]:
        """The effective trainer settings of a configured game (game over defaults)."""
        base = dataclasses.asdict(self.trainer)
        gc = self.games.get(game, GameConfig())
        for key in ("num_envs", "num_steps", "minibatch_size"):
            if getattr(gc, key):
                base[key] = getattr(gc, key)
        if gc.command:
            base["command"] = list(gc.command)
        base["env_id"] = gc.env_id or env_id_for(game) or game
        base["target_episodes"] = gc.target_episodes
        return base


def loads(text: str, source: str = "<string>") -> Config:
    """Parse and validate TOML text; raise ConfigError on the first problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML syntax error: {exc}") from None
    located = Located(source, text)
    cfg = build_section(Config, raw, (), located)
    cfg = dataclasses.replace(cfg, source=source)
    _check_semantics(cfg, located)
    return cfg


def load(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return loads(text, str(path))


def dump(cfg: Config) -> str:
    """The TOML text of a model; loads(dump(cfg)) == cfg."""
    return tomli_w.dumps(to_plain(cfg))


def save(cfg: Config, path: Path) -> None:
    """Write a model atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump(cfg), encoding="utf-8")
    os.replace(tmp, path)


def find_config(explicit: str | None = None) -> Path | None:
    """The config file to use: --config, $CONTROLROOM_CONFIG, XDG, ./config.toml."""
    named = _explicit_path(explicit)
    if named is not None:
        if not named.is_file():
            raise ConfigError(f"{named}: no such config file")
        return named
    return next((c for c in (_xdg_config_path(), Path("config.toml")) if c.is_file()), None)


def default_config_path() -> Path:
    """Where `controlroom init` writes: $CONTROLROOM_CONFIG, else the XDG location."""
    return _explicit_path(None) or _xdg_config_path()


def _xdg_config_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "controlroom" / "config.toml"


def starter_text() -> str:
    """The documented example config shipped with the package."""
    return (Path(__file__).parent / "assets" / "config.toml").read_text(encoding="utf-8")


def _explicit_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    return None


def _check_semantics(cfg: Config, at: Located) -> None:
    """Cross-field rules that a type check alone cannot see."""
    for name, game in cfg.games.items():
        _check_game_name(name, game, at)
    _check_settings(("trainer",), cfg.trainer.num_envs, cfg.trainer.num_steps,
                    cfg.trainer.minibatch_size, at)  # fmt: skip
    for name in cfg.games:
        s = cfg.game_settings(name)
        _check_settings(("games", name), s["num_envs"], s["num_steps"], s["minibatch_size"], at)
    for name, prof in cfg.profiles.items():
        _check_game_refs(("profiles", name, "games"), prof.games, cfg, at)
        _check_settings(("profiles", name), prof.num_envs, prof.num_steps,
                        prof.minibatch_size, at)  # fmt: skip
    _check_game_refs(("ramp", "games"), cfg.ramp.games, cfg, at)
    _check_settings(("ramp",), cfg.ramp.num_envs, cfg.ramp.num_steps,
                    cfg.ramp.minibatch_size, at)  # fmt: skip
    _check_ranges(cfg, at)
    for name, host in cfg.hosts.items():
        if not (host.ssh_alias or name).strip():
            raise at.error(("hosts", name, "ssh_alias"), "must not be empty (a ~/.ssh/config Host)")


def _check_game_name(name: str, game: GameConfig, at: Located) -> None:
    if env_id_for(game.env_id or name) is None:
        raise at.error(
            ("games", name),
            f"unknown game {name!r}{suggest(name)}; known: {', '.join(known_names()[:12])}, ...",
        )
    if game.target_episodes < 1:
        raise at.error(("games", name, "target_episodes"), "must be >= 1")


def _check_game_refs(path: tuple[str, ...], games: list[str], cfg: Config, at: Located) -> None:
    for g in games:
        if g not in cfg.games:
            hint = suggest(g, list(cfg.games))
            raise at.error(path, f"names game {g!r} that [games] does not define{hint}")


def _check_settings(path: tuple[str, ...], envs: int, steps: int, mb: int, at: Located) -> None:
    if envs < 1:
        raise at.error((*path, "num_envs"), f"is {envs}; must be >= 1")
    if steps < 1:
        raise at.error((*path, "num_steps"), f"is {steps}; must be >= 1")
    batch = envs * steps
    if mb < 1 or mb > batch or batch % mb:
        raise at.error(
            (*path, "minibatch_size"),
            f"is {mb}; must divide num_envs*num_steps = {envs}*{steps} = {batch}",
        )


def _check_ranges(cfg: Config, at: Located) -> None:
    checks: list[tuple[tuple[str, ...], bool, str]] = [
        (("trainer", "gpu_memory_fraction"), 0 <= cfg.trainer.gpu_memory_fraction <= 1, "0..1"),
        (("trainer", "keep_checkpoints"), cfg.trainer.keep_checkpoints >= 1, ">= 1"),
        (("trainer", "checkpoint_interval_s"), cfg.trainer.checkpoint_interval_s >= 1, ">= 1"),
        (("guard", "max_gpu_memory_fraction"),
         0 < cfg.guard.max_gpu_memory_fraction <= 1, "in (0, 1]"),
        (("guard", "max_host_ram_fraction"), 0 < cfg.guard.max_host_ram_fraction <= 1, "(0, 1]"),
        (("guard", "max_total_envs"), cfg.guard.max_total_envs >= 1, ">= 1"),
        (("guard", "max_trainers"), cfg.guard.max_trainers >= 1, ">= 1"),
        (("guard", "action_interval_s"), cfg.guard.action_interval_s >= 0, ">= 0"),
        (("guard", "resume_hold_s"), cfg.guard.resume_hold_s >= 0, ">= 0"),
        (("ramp", "stable_minutes"), cfg.ramp.stable_minutes > 0, "> 0"),
        (("ramp", "start_games"), cfg.ramp.start_games >= 1, ">= 1"),
        (("ramp", "max_games"), cfg.ramp.max_games >= cfg.ramp.start_games, ">= start_games"),
        (("agent", "price_per_hour"), cfg.agent.price_per_hour >= 0, ">= 0"),
        (("agent", "crash_loop_count"), cfg.agent.crash_loop_count >= 1, ">= 1"),
        (("agent", "max_events"), cfg.agent.max_events >= 100, ">= 100"),
    ]  # fmt: skip
    checks += [
        (("hosts", n, "price_per_gpu_hour"), h.price_per_gpu_hour >= 0, ">= 0")
        for n, h in cfg.hosts.items()
    ]
    for path, ok, valid in checks:
        if not ok:
            raise at.error(path, f"must be {valid}")
