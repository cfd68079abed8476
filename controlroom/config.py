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
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from controlroom import keys
from controlroom.config_schema import (
    ConfigError,
    Located,
    build_section,
    check_field,
    doc,
    field_hint,
    to_plain,
)
from controlroom.games import env_id_for, known_names, suggest
from controlroom.gpus import Gpus, gpus_override_problem, gpus_problem
from controlroom.span import MAX_NODES, SPAN_KEYS, Span, job_id_problem, rendezvous_problem

__all__ = [
    "CLIENT_SETTINGS",
    "SETTING_SECTIONS",
    "AgentConfig",
    "AlertsConfig",
    "Config",
    "ConfigError",
    "DiagnosticsConfig",
    "EvaluationConfig",
    "GameConfig",
    "GuardConfig",
    "HostConfig",
    "ProfileConfig",
    "RampConfig",
    "TrainerDefaults",
    "TuneConfig",
    "check_value",
    "dump",
    "find_config",
    "load",
    "loads",
    "save",
    "settings_problem",
    "shape_problem",
    "span_problem",
    "starter_text",
]

CONFIG_ENV = "CONTROLROOM_CONFIG"


# Upper bounds that no real run comes near, and that keep a typo (an extra zero or
# three) from reaching a trainer: the log's heaviest load was 8 games x 256 envs.
MAX_ENVS = 4096
MAX_STEPS = 8192
MAX_BATCH = MAX_ENVS * MAX_STEPS
MAX_SEED = 2**31 - 1  # numpy, torch and envpool all take it
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
MAX_PRICE = 10_000.0
# What a `command` template may name; launch.py fills them in.
PLACEHOLDERS = (
    "game",
    "env_id",
    "num_envs",
    "num_steps",
    "minibatch_size",
    "run_dir",
    "seed",
    "target_episodes",
    "device",
)


def device_problem(device: str) -> str | None:
    """Why `device` is not one a trainer accepts, or None."""
    kind, colon, index = device.partition(":")
    if device in ("auto", "cpu", "cuda") or (
        kind == "cuda" and colon and index.isdigit() and len(index) <= 3
    ):
        return None
    return f"is {device!r}; must be auto, cpu, cuda or cuda:N"


def command_problem(command: list[str]) -> str | None:
    """Why a trainer `command` template would not run, or None."""
    if command and not command[0].strip():
        return "the program (first argument) must not be empty"
    for arg in command:
        try:
            parts = list(string.Formatter().parse(arg))
        except ValueError as exc:
            return f"argument {arg!r}: {exc} (write {{{{ and }}}} for literal braces)"
        for _, name, spec, conv in parts:
            if name is not None and (name not in PLACEHOLDERS or spec or conv):
                return (
                    f"argument {arg!r}: unknown placeholder {{{name}}}"
                    f"{suggest(name, list(PLACEHOLDERS))}; known: {', '.join(PLACEHOLDERS)}"
                )
    return None


def alias_problem(alias: str) -> str | None:
    """Why `alias` cannot name a Host of ~/.ssh/config, or None."""
    if not alias.strip():
        return "must not be empty (a Host in ~/.ssh/config)"
    if alias.startswith("-"):
        return f"is {alias!r}; must not start with '-' (ssh would read it as an option)"
    if any(c.isspace() or not c.isprintable() for c in alias) or len(alias) > 255:
        return f"is {alias!r}; must be one word (a Host in ~/.ssh/config), no spaces"
    return None


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _one_line(value: str) -> str | None:
    return None if "\n" not in value and len(value) <= 200 else "must be one line, <= 200 chars"


# The one range of eval_every_minutes, wherever it is set ([evaluation], a game, a
# profile): a week at most, 0 = off.
MAX_EVAL_EVERY_MIN = WEEK_S / 60


def _eval_every(text: str) -> Any:
    """A game's or a profile's eval_every_minutes: unset (None) = inherit, 0 = off."""
    return field(default=None, metadata=doc(text, lo=0.0, hi=MAX_EVAL_EVERY_MIN))


# A game's settings as they travel (a trainer's flags by name, a partial TrainerDefaults
# plus target_episodes): a mapping, not a Struct, because every layer (overrides, a
# trial's changes, a profile's games) carries only the names it changes. The names and
# bounds are TrainerDefaults' fields; they are checked once at the edge (check_value here
# for the file, protocol.check_settings for a client).
Settings = dict[str, Any]


@dataclass(frozen=True)
class TrainerDefaults:
    """Settings every game starts from; a game or profile may override them."""

    num_envs: int = field(
        default=8, metadata=doc("parallel environments per game", lo=1, hi=MAX_ENVS)
    )
    num_steps: int = field(
        default=128, metadata=doc("steps per env per PPO rollout", lo=1, hi=MAX_STEPS)
    )
    minibatch_size: int = field(
        default=256,
        metadata=doc(
            "PPO minibatch size (the log's 'batch size'); divides num_envs*num_steps",
            lo=1,
            hi=MAX_BATCH,
        ),
    )
    seed: int = field(default=1, metadata=doc("random seed", lo=0, hi=MAX_SEED))
    device: str = field(
        default="auto", metadata=doc("auto | cpu | cuda | cuda:N", check=device_problem)
    )
    torch_threads: int = field(
        default=0,
        metadata=doc(
            "torch CPU threads per trainer; 0 = auto: the agent divides the host's cores "
            "among the trainers it runs",
            lo=0,
            hi=1024,
        ),
    )
    envpool_threads: int = field(
        default=0,
        metadata=doc(
            "envpool worker threads per trainer (at most num_envs are used); 0 = auto, as "
            "torch_threads",
            lo=0,
            hi=1024,
        ),
    )
    gpu_memory_fraction: float = field(
        default=0.0,
        metadata=doc("per-trainer cap on the GPU's memory, 0..1; 0 = no cap", lo=0.0, hi=1.0),
    )
    gpus: Gpus = field(
        default=1,
        metadata=doc(
            "GPUs per game: a count N (placed by the agent by free memory; N > 1 = one "
            "data-parallel job of N ranks) or a list of GPU indices to pin it, e.g. [1]",
            check=gpus_problem,
        ),
    )
    # A float, as the trainer's --checkpoint-interval is, with its bounds (0, a week]:
    # one range on every path (config file, wire, CLI, trainer flag; a contract test).
    checkpoint_interval_s: float = field(
        default=60.0,
        metadata=doc("seconds between checkpoints", lo=0.0, hi=WEEK_S, lo_open=True),
    )
    keep_checkpoints: int = field(
        default=3, metadata=doc("newest checkpoints kept per game", lo=1, hi=1000)
    )
    command: list[str] = field(
        default_factory=list,
        metadata=doc(
            "your own trainer as an argument list (no shell); placeholders {game} {env_id} "
            "{num_envs} {num_steps} {minibatch_size} {run_dir} {seed}; empty = built-in",
            check=command_problem,
        ),
    )


@dataclass(frozen=True)
class GameConfig:
    """One game that may be trained; unset settings come from [trainer]."""

    target_episodes: int = field(
        default=25_000, metadata=doc("episodes that count as done", lo=1, hi=10**9)
    )
    env_id: str = field(default="", metadata=doc("envpool task id; default '<Game>-v5'"))
    num_envs: int = field(
        default=0, metadata=doc("override [trainer].num_envs; 0 = inherit", lo=0, hi=MAX_ENVS)
    )
    num_steps: int = field(
        default=0, metadata=doc("override [trainer].num_steps; 0 = inherit", lo=0, hi=MAX_STEPS)
    )
    minibatch_size: int = field(
        default=0,
        metadata=doc("override [trainer].minibatch_size; 0 = inherit", lo=0, hi=MAX_BATCH),
    )
    gpus: Gpus = field(
        default=0,
        metadata=doc(
            "override [trainer].gpus: a count or pinned GPU indices ([1]); 0 = inherit",
            check=gpus_override_problem,
        ),
    )
    # A job over several hosts (controlroom/span.py, docs/multi-gpu.md): per game, not
    # per profile or [trainer], because one rendezvous address:port serves one job.
    nodes: int = field(
        default=1,
        metadata=doc(
            "hosts this game's one job spans; each runs `gpus` ranks; 1 = this host alone",
            lo=1,
            hi=MAX_NODES,
        ),
    )
    node_rank: int = field(
        default=0,
        metadata=doc(
            "this host's place in the job, 0..nodes-1; node 0 hosts the rendezvous and "
            "holds the checkpoints",
            lo=0,
            hi=MAX_NODES - 1,
        ),
    )
    rendezvous: str = field(
        default="",
        metadata=doc(
            "node 0's ADDR:PORT, the same on every node (torchrun's c10d rendezvous; the "
            "port is opened only while the job runs); '' = this host alone",
            check=rendezvous_problem,
        ),
    )
    job_id: str = field(
        default="",
        metadata=doc(
            "the job's name, the same on every node (torchrun's --rdzv-id)",
            check=job_id_problem,
        ),
    )
    command: list[str] = field(
        default_factory=list,
        metadata=doc("override [trainer].command for this game", check=command_problem),
    )
    # The agent's, not the trainer's: never in game_settings, so never on a trainer's
    # command line nor in what a migration compares (docs/evaluation.md).
    eval_every_minutes: float | None = _eval_every(
        "minutes between periodic evaluations of this game, over its profile's and "
        "[evaluation]'s; 0 = off; unset = inherit"
    )


@dataclass(frozen=True)
class ProfileConfig:
    """A named load: which games run, and with what settings."""

    games: list[str] = field(default_factory=list, metadata=doc("games this profile runs"))
    num_envs: int = field(default=8, metadata=doc("envs per game", lo=1, hi=MAX_ENVS))
    minibatch_size: int = field(default=256, metadata=doc("minibatch per game", lo=1, hi=MAX_BATCH))
    num_steps: int = field(
        default=128, metadata=doc("steps per env per rollout", lo=1, hi=MAX_STEPS)
    )
    gpus: Gpus = field(
        default=0,
        metadata=doc(
            "GPUs per game of this profile (count or pinned indices); 0 = each game's own",
            check=gpus_override_problem,
        ),
    )
    eval_every_minutes: float | None = _eval_every(
        "minutes between periodic evaluations of this profile's games while it is the one "
        "applied, over [evaluation]'s; 0 = off; unset = inherit"
    )
    description: str = field(default="", metadata=doc("one line shown in pickers", check=_one_line))


@dataclass(frozen=True)
class RampConfig:
    """Gradual scale-up (the log's Option 3): add a game after a stable window."""

    enabled: bool = field(default=False, metadata=doc("run the ramp unattended"))
    stable_minutes: float = field(
        default=30.0,
        metadata=doc("stable minutes before a step", lo=0.0, lo_open=True, hi=WEEK_S / 60),
    )
    games: list[str] = field(default_factory=list, metadata=doc("games in the order added"))
    start_games: int = field(default=2, metadata=doc("games in the first step", lo=1, hi=256))
    max_games: int = field(
        default=6, metadata=doc("stop adding at this many games (>= start_games)", lo=1, hi=256)
    )
    num_envs: int = field(
        default=32, metadata=doc("envs per game while ramping", lo=1, hi=MAX_ENVS)
    )
    minibatch_size: int = field(
        default=512, metadata=doc("minibatch per game while ramping", lo=1, hi=MAX_BATCH)
    )
    num_steps: int = field(
        default=128, metadata=doc("steps per env while ramping", lo=1, hi=MAX_STEPS)
    )


@dataclass(frozen=True)
class GuardConfig:
    """Budgets a scale-up may not cross; crossing one while running pauses a game."""

    max_gpu_memory_fraction: float = field(
        default=0.5,
        metadata=doc(
            "share of GPU memory all trainers may use, 0..1", lo=0.0, lo_open=True, hi=1.0
        ),
    )
    max_total_envs: int = field(
        default=1024, metadata=doc("envs summed over all games", lo=1, hi=256 * MAX_ENVS)
    )
    max_trainers: int = field(default=8, metadata=doc("trainer processes at once", lo=1, hi=256))
    max_gpu_temp_c: float = field(
        default=83.0, metadata=doc("GPU temperature limit, Celsius", lo=30.0, hi=120.0)
    )
    max_host_ram_fraction: float = field(
        default=0.9, metadata=doc("host RAM share, 0..1", lo=0.0, lo_open=True, hi=1.0)
    )
    action_interval_s: float = field(
        default=15.0,
        metadata=doc(
            "seconds between two pauses or resumes, so memory and heat can move first",
            lo=0.0,
            hi=3600.0,
        ),
    )
    resume_hold_s: float = field(
        default=30.0,
        metadata=doc(
            "seconds back under every limit (with margin) before a paused game resumes",
            lo=0.0,
            hi=DAY_S,
        ),
    )


@dataclass(frozen=True)
class TuneConfig:
    """The tune's ladder (agent/policy/tune.py): how far it climbs and when it stops."""

    minutes: float = field(
        default=12.0,
        metadata=doc(
            "minutes a tune of one game takes by default", lo=0.0, lo_open=True, hi=1440.0
        ),
    )
    min_gain: float = field(
        default=0.1,
        metadata=doc(
            "the host's steps/s must gain this share over the best rung below, or the climb "
            "stops (diminishing returns)",
            lo=0.0,
            hi=10.0,
        ),
    )
    warmup_updates: int = field(
        default=1,
        metadata=doc(
            "a rung's first metrics lines left out of its measure (warm-up)", lo=0, hi=100
        ),
    )
    max_rungs: int = field(
        default=6, metadata=doc("shapes in a ladder at most, the current one included", lo=2, hi=16)
    )


@dataclass(frozen=True)
class AgentConfig:
    """The host agent's own behaviour."""

    state_dir: str = field(
        default="~/.local/state/controlroom",
        metadata=doc("socket, SQLite store, logs and runs live here", check=_not_empty),
    )
    price_per_hour: float = field(
        default=2.0, metadata=doc("this host's $ per GPU-hour", lo=0.0, hi=MAX_PRICE)
    )
    heartbeat_s: float = field(
        default=10.0, metadata=doc("seconds between boot heartbeats", lo=0.1, hi=3600.0)
    )
    telemetry_s: float = field(
        default=2.0, metadata=doc("seconds between telemetry samples", lo=0.1, hi=3600.0)
    )
    stop_grace_s: float = field(
        default=30.0, metadata=doc("SIGTERM to SIGKILL grace", lo=0.1, hi=3600.0)
    )
    backoff_initial_s: float = field(
        default=1.0, metadata=doc("first restart delay", lo=0.1, hi=DAY_S)
    )
    backoff_max_s: float = field(
        default=60.0, metadata=doc("longest restart delay (>= backoff_initial_s)", lo=0.1, hi=DAY_S)
    )
    stable_reset_s: float = field(
        default=300.0,
        metadata=doc("running this long resets the restart backoff", lo=1.0, hi=WEEK_S),
    )
    crash_loop_count: int = field(
        default=5, metadata=doc("crashes that make a crash loop", lo=1, hi=1000)
    )
    crash_loop_window_s: float = field(
        default=600.0, metadata=doc("...within this window", lo=1.0, hi=WEEK_S)
    )
    hang_timeout_s: float = field(
        default=120.0, metadata=doc("silent metrics = hung trainer", lo=1.0, hi=WEEK_S)
    )
    snapshot_retention: int = field(
        default=3, metadata=doc("migration snapshots kept per game", lo=1, hi=1000)
    )
    max_events: int = field(
        default=50_000,
        metadata=doc(
            "newest events kept in the event log (older ones pruned)", lo=100, hi=10_000_000
        ),
    )


@dataclass(frozen=True)
class DiagnosticsConfig:
    """When a learning curve "looks wrong" (agent/learning/diagnosis.py): the pane's marker."""

    entropy_collapse_fraction: float = field(
        default=0.1,
        metadata=doc(
            "entropy below this share of its starting value has collapsed",
            lo=0.0,
            lo_open=True,
            hi=1.0,
        ),
    )
    entropy_early_steps: int = field(
        default=2_000_000,
        metadata=doc(
            "...and collapsed early if within this many steps of the start", lo=1, hi=10**13
        ),
    )
    kl_clip_factor: float = field(
        default=1.0,
        metadata=doc(
            "approx KL above this multiple of the PPO clip coefficient is far too high",
            lo=0.0,
            lo_open=True,
            hi=1000.0,
        ),
    )
    kl_updates: int = field(
        default=10, metadata=doc("...as the median of this many newest updates", lo=1, hi=10_000)
    )
    flat_updates: int = field(
        default=2000,
        metadata=doc(
            "return flat over this many updates (while steps grow) is stuck", lo=10, hi=10**7
        ),
    )
    flat_min_gain: float = field(
        default=0.05,
        metadata=doc(
            "...unless it gained this share of its size (at least 1) in them or since the start",
            lo=0.0,
            hi=100.0,
        ),
    )


# The event kinds an alert may be sent for ([alerts].kinds). A subset of
# protocol.EVENT_KINDS (protocol imports this module, so the names are written here; a
# test holds them to protocol's): alert_sent and alert_failed are left out, or a failing
# alert would alert about itself.
ALERT_KINDS = (
    "agent_started",
    "reboot",
    "crash",
    "crash_loop",
    "hung",
    "trainer_exited",
    "target_reached",
    "guard_paused",
    "guard_resumed",
    "guard_refused",
    "looks_wrong",
    "disk_low",
    "migrated",
    "rolled_back",
    "trial_decided",
    "error",
)
# The tune's end (protocol.EventKind.TUNE_FINISHED, agent/policy/tune.py): on by default,
# so a finished tune alerts.
TUNE_FINISHED_KIND = "tune_finished"
DEFAULT_ALERT_KINDS = (
    "reboot",
    "crash_loop",
    "hung",
    "target_reached",
    "guard_paused",
    "looks_wrong",
    TUNE_FINISHED_KIND,
    "disk_low",
)
MAX_URL = 2000


def url_problem(url: str) -> str | None:
    """Why `url` is not an apprise URL (scheme://...), or None. It never repeats the URL:
    it may hold a token."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").isalnum() or not rest:
        return "must be a URL of the form scheme://... (an apprise URL, e.g. ntfys://ntfy.sh/TOPIC)"
    if len(url) > MAX_URL or any(c.isspace() or not c.isprintable() for c in url):
        return f"must be one URL: no spaces, at most {MAX_URL} characters"
    return None


def urls_problem(urls: list[str]) -> str | None:
    """The first problem of a list of apprise URLs (by its place, not its text)."""
    for i, url in enumerate(urls):
        problem = url_problem(url)
        if problem is not None:
            return f"entry {i + 1} {problem}"
    return None


def heartbeat_url_problem(url: str) -> str | None:
    """A dead man's switch URL is pinged with a plain HTTP GET: http(s) or nothing."""
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL (or empty: no heartbeat)"
    return url_problem(url)


def alert_kinds_problem(kinds: list[str]) -> str | None:
    """Why a [alerts].kinds list is not one, or None."""
    known = (*ALERT_KINDS, TUNE_FINISHED_KIND)
    for kind in kinds:
        if kind not in known:
            hint = suggest(kind, list(known))
            return f"unknown event kind {kind!r}{hint}; kinds: {', '.join(known)}"
    twice = sorted({k for k in kinds if kinds.count(k) > 1})
    return f"names {', '.join(twice)} more than once" if twice else None


def hook_problem(command: list[str]) -> str | None:
    """Why a hook `command` would not run (it runs as an argument list, no shell)."""
    if command and not command[0].strip():
        return "the program (first argument) must not be empty"
    return None


@dataclass(frozen=True)
class AlertsConfig:
    """Alerts the agent sends when something happens (docs/alerts.md)."""

    urls: list[str] = field(
        default_factory=list,
        metadata=doc(
            "apprise URLs to notify (ntfy, Slack, Discord, email, json:// webhooks...); they "
            "hold secrets: the file must be readable by you alone (chmod 600)",
            check=urls_problem,
        ),
    )
    kinds: list[str] = field(
        default_factory=lambda: list(DEFAULT_ALERT_KINDS),
        metadata=doc("the event kinds that alert", check=alert_kinds_problem),
    )
    min_interval_s: float = field(
        default=300.0,
        metadata=doc(
            "seconds between two alerts of one kind for one game; those between are "
            "counted into the next",
            lo=0.0,
            hi=WEEK_S,
        ),
    )
    digest_window_s: float = field(
        default=5.0,
        metadata=doc(
            "seconds alerts are gathered before sending: several go as one digest",
            lo=0.0,
            hi=3600.0,
        ),
    )
    send_timeout_s: float = field(
        default=10.0, metadata=doc("seconds one send may take", lo=0.1, hi=600.0)
    )
    retries: int = field(default=3, metadata=doc("tries again after a failed send", lo=0, hi=20))
    retry_backoff_s: float = field(
        default=5.0,
        metadata=doc("first wait before a retry; doubles each time", lo=0.01, hi=3600.0),
    )
    heartbeat_url: str = field(
        default="",
        metadata=doc(
            "dead man's switch: an http(s) URL the agent GETs every heartbeat_every_s "
            "(healthchecks.io, Uptime Kuma push); '' = none",
            check=heartbeat_url_problem,
        ),
    )
    heartbeat_every_s: float = field(
        default=60.0, metadata=doc("seconds between heartbeat pings", lo=0.1, hi=DAY_S)
    )
    command: list[str] = field(
        default_factory=list,
        metadata=doc(
            "a program run for each alert, as an argument list (no shell), the alert as "
            "JSON on its stdin; [] = none",
            check=hook_problem,
        ),
    )
    command_timeout_s: float = field(
        default=10.0, metadata=doc("seconds the command may run", lo=0.1, hi=3600.0)
    )
    disk_low_gib: float = field(
        default=5.0,
        metadata=doc(
            "free GiB in the state dir below which a disk_low event is recorded; 0 = never",
            lo=0.0,
            hi=10.0**6,
        ),
    )

    @property
    def active(self) -> bool:
        """Whether anything is configured to be sent."""
        return bool(self.urls or self.heartbeat_url or self.command)


@dataclass(frozen=True)
class HostConfig:
    """A GPU host reached over SSH."""

    ssh_alias: str = field(
        default="",
        metadata=doc("Host alias in ~/.ssh/config; unset = the table's name", check=alias_problem),
    )
    state_dir: str = field(
        default="~/.local/state/controlroom",
        metadata=doc("the agent's state dir there", check=_not_empty),
    )
    price_per_gpu_hour: float = field(
        default=2.0, metadata=doc("what the host costs, $/hour", lo=0.0, hi=MAX_PRICE)
    )
    python: str = field(
        default="python3", metadata=doc("python used to install the agent", check=_not_empty)
    )
    controlroom: str = field(
        default="~/.local/share/controlroom/venv/bin/controlroom",
        metadata=doc(
            "the controlroom command on that host (installed by --install); its "
            "venv is two folders up (.../venv/bin/controlroom -> .../venv)",
            check=_not_empty,
        ),
    )
    pip_args: list[str] = field(
        default_factory=list,
        metadata=doc(
            'extra `pip install` arguments for --install, e.g. ["--find-links", '
            '"/wheels", "--no-index"] for a host without PyPI'
        ),
    )
    system_site_packages: bool = field(
        default=False,
        metadata=doc(
            "create the agent's venv with --system-site-packages, so a torch already "
            "installed on the host is used instead of downloaded"
        ),
    )
    rendezvous: str = field(
        default="",
        metadata=doc(
            "ADDR:PORT where a job over several hosts with node 0 here meets: this host's "
            "address on the network the fleet shares, e.g. 10.0.0.5:29400; '' = the TUI's "
            "span key cannot start one with node 0 here",
            check=rendezvous_problem,
        ),
    )


@dataclass(frozen=True)
class EvaluationConfig:
    """Periodic evaluation of every trained game's policy (docs/evaluation.md): the agent
    runs the evaluator at low priority on the CPU and keeps the score in the game's
    history, beside its training return."""

    eval_every_minutes: float = field(
        default=0.0,
        metadata=doc(
            "minutes between evaluations of a game that is training; 0 = off; a game's "
            "or the applied profile's own wins",
            lo=0.0,
            hi=MAX_EVAL_EVERY_MIN,
        ),
    )
    episodes: int = field(
        default=5, metadata=doc("episodes each periodic evaluation plays", lo=1, hi=100)
    )


@dataclass(frozen=True)
class Config:
    """The whole file."""

    trainer: TrainerDefaults = field(default_factory=TrainerDefaults)
    games: dict[str, GameConfig] = field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    ramp: RampConfig = field(default_factory=RampConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
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
        if gc.gpus:
            base["gpus"] = list(gc.gpus) if isinstance(gc.gpus, list) else gc.gpus
        base["env_id"] = gc.env_id or env_id_for(game) or game
        base["target_episodes"] = gc.target_episodes
        base.update({key: getattr(gc, key) for key in SPAN_KEYS})
        return base

    def eval_every_minutes(self, game: str, profile: str | None) -> float:
        """Minutes between periodic evaluations of `game` (0 = none): its own
        [games.X] value, else that of `profile` (the one applied on the host) when it
        runs the game, else [evaluation]'s. An agent-side setting: the trainer never
        reads it, so it stays out of game_settings."""
        own = self.games.get(game, GameConfig()).eval_every_minutes
        if own is not None:
            return own
        prof = self.profiles.get(profile or "")
        if prof is not None and game in prof.games and prof.eval_every_minutes is not None:
            return prof.eval_every_minutes
        return self.evaluation.eval_every_minutes


def loads(text: str, source: str = "<string>") -> Config:
    """Parse and validate TOML text; raise ConfigError on the first problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML syntax error: {exc}") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise ConfigError(f"{source}: TOML value not readable: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: TOML nested too deeply") from None
    located = Located(source, text)
    cfg = build_section(Config, raw, (), located)
    cfg = dataclasses.replace(cfg, source=source)
    _check_semantics(cfg, located)
    return cfg


def load(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); TOML files are UTF-8"
        ) from None
    return loads(text, str(path))


def dump(cfg: Config) -> str:
    """The TOML text of a model; loads(dump(cfg)) == cfg."""
    return tomli_w.dumps(to_plain(cfg))


def save(cfg: Config, path: Path) -> None:
    """Validate a model as a file would be (ConfigError, nothing written), then write it
    atomically (temp file + rename) so a crash never leaves half a file: what the agent
    writes back is always a file it can start from."""
    try:
        text = dump(cfg)
    except (TypeError, ValueError) as exc:  # a value TOML cannot hold
        raise ConfigError(f"{path}: cannot be written: {exc}") from None
    loads(text, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    # A file made private (alert URLs are secrets) stays private, its copy included.
    mode = path.stat().st_mode & 0o777 if path.exists() else None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def check_value(section: type[Any], name: str, value: Any) -> Any:
    """One value for field `name` of a section (TrainerDefaults, GuardConfig, ...), checked
    against the same type and bounds as config.toml: the value (an int for a float field
    becomes a float), or ConfigError("name: is X; must be ...")."""
    f, hint = field_hint(section, name)
    return check_field(f, hint, value, (name,), Located("", ""))


# Every setting of a game's, with the section that declares its type and bounds: what
# a client sends, what the store holds and what config.toml says all pass the same
# check. `command` is not a client's: what runs on the host is chosen in its config file.
SETTING_SECTIONS: dict[str, type[Any]] = {
    **{f.name: TrainerDefaults for f in dataclasses.fields(TrainerDefaults)},
    **dict.fromkeys(("target_episodes", *SPAN_KEYS), GameConfig),
}
CLIENT_SETTINGS: tuple[str, ...] = tuple(k for k in SETTING_SECTIONS if k != "command")
# Keys whole settings may lack: a GameState leaves `command` out (empty = built-in), and
# a game stored before `gpus` or the span existed runs on one GPU of one host, and one
# stored before `envpool_threads` existed gets its threads chosen (0 = auto).
OPTIONAL_SETTINGS = ("command", "gpus", "envpool_threads", *SPAN_KEYS)


def settings_problem(settings: Settings) -> str | None:
    """Why a game's whole settings may not run, as one line naming the key, or None.

    The one check every path that gives a game new settings passes before anything
    changes (add, scale, migrate, trial, profile, queue slot, ramp step, rollback, the
    supervisor's own `want` behind them all): each value's type and bounds exactly as
    config.toml declares them, then what only the whole set can say (every key
    present, the minibatch dividing the rollout, the span, the env id)."""
    for key, section in SETTING_SECTIONS.items():
        if key in settings:
            try:
                check_value(section, key, settings[key])
            except ConfigError as exc:
                return str(exc)
    required = (*CLIENT_SETTINGS, "env_id")
    missing = [k for k in required if k not in settings and k not in OPTIONAL_SETTINGS]
    if missing:
        return f"settings lack {', '.join(missing)}"
    envs, steps, mb = (settings[k] for k in ("num_envs", "num_steps", "minibatch_size"))
    problem = shape_problem(envs, steps, mb) or span_problem(settings)
    if problem is not None:
        return f"{problem[0]} {problem[1]}"
    env_id = settings["env_id"]
    if not isinstance(env_id, str) or env_id_for(env_id) is None:
        return f"env_id {env_id!r} is not a known game"
    return None


def span_problem(settings: Settings) -> tuple[str, str] | None:
    """(key, problem) when a game's whole settings do not make one job: its span's own
    rules (span.Span.problem), and a job over several hosts runs the built-in trainer
    (the agent cannot put a command of the host's own under torchrun)."""
    span = Span.of(settings)
    if span.spans and settings.get("command"):
        return "nodes", f"is {span.nodes}; a job over several hosts runs the built-in trainer"
    return span.problem()


def shape_problem(envs: int, steps: int, mb: int) -> tuple[str, str] | None:
    """(key, problem) when a minibatch does not divide the rollout, else None."""
    batch = envs * steps
    if batch % mb:
        return (
            "minibatch_size",
            f"is {mb}; must divide num_envs*num_steps = {envs}*{steps} = {batch}",
        )
    return None


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
    """Cross-field rules that a field's own type and bounds cannot see."""
    for name, game in cfg.games.items():
        _check_game_name(name, game, at)
    _check_settings(
        ("trainer",), cfg.trainer.num_envs, cfg.trainer.num_steps, cfg.trainer.minibatch_size, at
    )
    for name in cfg.games:
        s = cfg.game_settings(name)
        _check_settings(("games", name), s["num_envs"], s["num_steps"], s["minibatch_size"], at)
        spanned = span_problem(s)
        if spanned is not None:
            raise at.error(("games", name, spanned[0]), spanned[1])
    for name, prof in cfg.profiles.items():
        _check_game_refs(("profiles", name, "games"), prof.games, cfg, at)
        _check_settings(("profiles", name), prof.num_envs, prof.num_steps, prof.minibatch_size, at)
    _check_game_refs(("ramp", "games"), cfg.ramp.games, cfg, at)
    _check_settings(("ramp",), cfg.ramp.num_envs, cfg.ramp.num_steps, cfg.ramp.minibatch_size, at)
    _check_pairs(cfg, at)
    for name, host in cfg.hosts.items():
        problem = alias_problem(host.ssh_alias or name)
        if problem is not None:
            raise at.error(("hosts", name, "ssh_alias"), f"{problem} (unset: the table's name)")
    _check_keymap(cfg.keymap, at)


def _check_game_name(name: str, game: GameConfig, at: Located) -> None:
    if env_id_for(game.env_id or name) is None:
        raise at.error(
            ("games", name),
            f"unknown game {name!r}{suggest(name)}; known: {', '.join(known_names()[:12])}, ...",
        )


def _check_game_refs(path: tuple[str, ...], games: list[str], cfg: Config, at: Located) -> None:
    for g in games:
        if g not in cfg.games:
            hint = suggest(g, list(cfg.games))
            raise at.error(path, f"names game {g!r} that [games] does not define{hint}")
    twice = sorted({g for g in games if games.count(g) > 1})
    if twice:
        raise at.error(path, f"names {', '.join(twice)} more than once")


def _check_settings(path: tuple[str, ...], envs: int, steps: int, mb: int, at: Located) -> None:
    problem = shape_problem(envs, steps, mb)
    if problem is not None:
        raise at.error((*path, problem[0]), problem[1])


def _check_pairs(cfg: Config, at: Located) -> None:
    """A lower setting above its upper one (each is in range on its own)."""
    pairs = [
        (("ramp", "max_games"), cfg.ramp.start_games, cfg.ramp.max_games, "start_games"),
        (
            ("agent", "backoff_max_s"),
            cfg.agent.backoff_initial_s,
            cfg.agent.backoff_max_s,
            "backoff_initial_s",
        ),
    ]
    for path, low, high, low_name in pairs:
        if low > high:
            raise at.error(path, f"is {high:g}; must be >= {low_name} ({low:g})")


def _check_keymap(keymap: dict[str, str], at: Located) -> None:
    for action, spec in keymap.items():
        if action not in keys.BINDINGS:
            hint = suggest(action, list(keys.BINDINGS))
            raise at.error(
                ("keymap", action), f"unknown action{hint}; actions: {', '.join(keys.BINDINGS)}"
            )
        problem = keys.key_problem(spec)
        if problem is not None:
            raise at.error(("keymap", action), problem)
    for action, other, key in keys.conflicts(keymap):
        raise at.error(
            ("keymap", action), f"key {key!r} is also bound to {other}; one key runs one action"
        )
