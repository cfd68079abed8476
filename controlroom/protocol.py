"""The wire between the TUI (or host CLI) and the agent: the one module both halves share.

JSON, one object per line, UTF-8. Every agent -> client message has a "type":

- ``hello``    first line on connect: {"type": "hello", "protocol": 1, "version": "0.1.0",
               "hostname": str, "boot_id": str}
- ``snapshot`` right after hello: {"type": "snapshot", "state": <State>}
- ``update``   a delta: {"type": "update", "state": <partial State>}; see `apply_state_update`
- ``event``    something happened: {"type": "event", "event": <Event>}
- ``reply``    the answer to a request: {"type": "reply", "id": 7, "ok": true, "result": {...}}
               or {"type": "reply", "id": 7, "ok": false, "error": {"code": str, "message": str}}

client -> agent: {"id": 7, "op": "add_game", "args": {...}}; `id` is chosen by the client
(an int or a string) and echoed. Mutating ops are idempotent (adding a game that is
already wanted changes nothing), so a retry after a dropped link never starts a second
trainer.

Every line fits in MAX_LINE_BYTES, replies included. `events` returns the newest `limit`
events after `since` (a time) and before `before` (a cursor), oldest first, but at most
REPLY_BUDGET bytes of them: when it stopped short its result says "more": true and
"next_before": <cursor>; the same request with `before` set to that cursor (and `limit`
lowered by what came) gets the older ones. Numbers are finite (NaN, Infinity and 1e999
are bad_json) and integers fit in 64 bits.

The State (snapshot.state) is a JSON object with these top-level keys; an update carries
any subset. "games" merges per game (a null value removes that game); every other key
replaces the whole value:

- host:   {hostname, boot_id, boot_time, agent_version, agent_started, now,
           uptime_s, reboots_24h}
- gpus:   [{index, name, utilization, memory_used, memory_total, temperature_c, power_w,
            power_limit_w, processes: [{pid, game, memory_used}]}]   (bytes, %, C, W)
- gpu_error: str | null     why no GPU is shown ("no NVIDIA driver", ...)
- system: {cpu_percent, ram_used, ram_total, load_avg: [1m, 5m, 15m], disk_free}
- games:  {name: GameState}
- boots:  [{boot_id, boot_time, first_seen, last_heartbeat, uptime_s, downtime_before_s,
            load: {games, trainers, gpu_memory_used, gpu_temp_c}}]  oldest first
- events: [Event]  the newest ones, oldest first
- policy: {profile, ramp, guard, queue, trials: {game: trial}, plan}  (PolicyState below;
           all but trials null from an agent without a policy engine)
- catalogue: [str]  the game names this host can run (the built-in catalogue, or the
            [games] of a host whose trainer is its own `command`); the picker offers these
- game_defaults: {name: {num_envs, num_steps, minibatch_size, target_episodes}}  what the
            agent starts each catalogue game with (its own config's settings); the picker
            labels its choices with these (an older agent sends none: the laptop's then)
- history: {gpu_util: [float], gpu_mem: [float], gpu_temp: [float], gpu_power: [float],
            cpu: [float], ram: [float]}  recent samples for the gauges, oldest first
- alerts: {enabled, urls: [redacted], kinds, heartbeat_url (redacted), heartbeat_every_s,
           last_ping, ping_error, command (its program), problem, sent, failed, dropped,
           last_sent, last_failed}  (AlertsState below; never a URL's secret part)

GameState: {game, env_id, wanted: bool, state: one of GAME_STATES, settings: {num_envs,
num_steps, minibatch_size, ...}, target_episodes, pid, started_at, restarts,
last_exit: str|null, next_restart_at: float|null, checkpoint: {time, global_step,
episodes}|null, metrics: {global_step, episodes, episodes_per_hour, sps,
return_mean, return_min, return_max, time}|null, return_history: [float],
gpu_memory_used: int|null, added_at, diagnosis: [{code, message}] (what looks wrong in
its learning curve, agent/learning/diagnosis.py; empty when nothing does), span: {nodes,
node_rank, ranks: [int], world_size, rendezvous, job_id}|null (this host's part of a job
over several hosts, controlroom/span.py; null for a job on this host alone)}

Event: {ts, kind (one of EVENT_KINDS), game: str|null, message: str, data: {...}}

The shapes above are declared once, below, as msgspec Structs: the messages (Hello,
Snapshot, Update, EventMessage, Reply), State and its parts, Event, and each op's
arguments (OPS: op -> its Args Struct). Why msgspec: one small dependency with none of
its own, validated decoding into typed objects (the argument's name in every refusal),
and Structs that encode to exactly the JSON above (enums by value, `type` as the tag),
so the wire did not change shape and PROTOCOL_VERSION did not move. A request is read in
two steps: `decode` parses the line with the refusals every value needs (non-finite
numbers, integers beyond 64 bits, nesting, lone surrogates), then `parse_request`
validates it into its op's Struct, whose settings and budgets are held to the bounds
config.py declares (check_settings, check_budgets). A partial State (`update`) is
`StateUpdate`: every key optional, UNSET when not sent (msgspec leaves UNSET fields out of
the JSON), `games` mapping a name to a GameState or None (removed); `apply_state_update`
merges one into a State. A client decodes the agent's lines with `decode_message`, which
ignores fields it does not know (an agent may add one within a protocol version).
"""

from __future__ import annotations

import dataclasses
import json
import math
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from controlroom import __version__
from controlroom.config import (
    CLIENT_SETTINGS,
    SETTING_SECTIONS,
    ConfigError,
    GuardConfig,
    Settings,
    check_value,
)

PROTOCOL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 1 << 20  # a line longer than this is refused, never buffered whole
REPLY_BUDGET: Final = MAX_LINE_BYTES // 2  # what a paged reply (events) carries at most
MAX_ARG_DEPTH: Final = 8  # settings and budgets are flat; deeper is never meant
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # SQLite's INTEGER, and any sane count or time


class GameStatus(StrEnum):
    """What a game's trainer is doing (GameState.state)."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"
    BACKOFF = "backoff"
    CRASH_LOOP = "crash_loop"
    HUNG = "hung"
    PAUSED = "paused"
    DONE = "done"


class EventKind(StrEnum):
    """What an Event says happened."""

    AGENT_STARTED = "agent_started"
    GAME_ADDED = "game_added"
    GAME_REMOVED = "game_removed"
    GAME_SCALED = "game_scaled"
    TRAINER_STARTED = "trainer_started"
    TRAINER_STOPPED = "trainer_stopped"
    TRAINER_EXITED = "trainer_exited"
    CRASH = "crash"
    RESTART = "restart"
    CRASH_LOOP = "crash_loop"
    HUNG = "hung"
    ADOPTED = "adopted"
    REBOOT = "reboot"
    CHECKPOINT = "checkpoint"
    RAMP_STEP = "ramp_step"
    RAMP_CEILING = "ramp_ceiling"
    RAMP_SKIPPED = "ramp_skipped"  # a part of a job over several hosts, left alone
    GUARD_REFUSED = "guard_refused"
    GUARD_PAUSED = "guard_paused"
    GUARD_RESUMED = "guard_resumed"
    MIGRATED = "migrated"
    ROLLED_BACK = "rolled_back"
    PROFILE_APPLIED = "profile_applied"
    TRIAL_STARTED = "trial_started"
    TRIAL_FINISHED = "trial_finished"
    TRIAL_DECIDED = "trial_decided"
    GUARD_CHANGED = "guard_changed"
    TARGET_REACHED = "target_reached"
    QUEUE_STARTED = "queue_started"
    WRITES_DROPPED = "writes_dropped"  # owed store writes beyond the cap (agent/storage/store.py)
    ERROR = "error"
    LOOKS_WRONG = "looks_wrong"  # a game's learning curve got a new diagnosis
    DISK_LOW = "disk_low"  # free space in the state dir fell under [alerts].disk_low_gib
    ALERT_SENT = "alert_sent"  # an alert reached every URL (agent/alerts/)
    ALERT_FAILED = "alert_failed"  # an alert failed at one URL or the hook, after retries
    TUNE_STARTED = "tune_started"  # a tune's ladder began (agent/policy/tune.py)
    TUNE_RUNG = "tune_rung"  # one rung measured, with its verdict
    TUNE_FINISHED = "tune_finished"  # the ladder ended: the chosen shape, or why none
    TUNE_APPLIED = "tune_applied"  # a tune's chosen shape applied (a migration)


GAME_STATES: Final = tuple(s.value for s in GameStatus)
EVENT_KINDS: Final = tuple(k.value for k in EventKind)

# The learning view's data (op `history`; agent/learning/history.py keeps it, the TUI plots it).
# Result: {"game", "run", "columns": HISTORY_COLUMNS, "rows": [[one value per column,
# null where the trainer did not say], ...] oldest first, "marks": [{"time",
# "global_step": int|null, "kind": one of MARK_KINDS, "message"}], "cursor": the newest
# row's time or null, "diagnosis": [{"code", "message"}]}. A full request (after null)
# gets at most HISTORY_POINTS rows, fine recent and coarse old; `after` (a cursor) gets
# only rows and marks newer than it. A mark newer than the newest row (a crash with no
# row since) comes again with each reply until a row passes it: keep marks by
# (time, kind). `run` is "main" (the game's own run) or "trial" (its running or last
# beside-trial candidate).
HISTORY_COLUMNS: Final = (
    "time",
    "global_step",
    "return_mean",
    "return_min",
    "return_max",
    "length_mean",
    "episodes_per_hour",
    "sps",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "learning_rate",
    "eval_mean",  # an evaluation's mean score (agent/evaluation/): its own rows, at its
    # checkpoint's step, every other column null
)
HISTORY_POINTS: Final = 2000
HISTORY_RUNS: Final = ("main", "trial")
MARK_KINDS: Final = (
    "start",
    "resume",
    "restart",
    "crash",
    "reboot",
    "migration",
    "rollback",
    "trial_start",
    "trial_end",
    "checkpoint_restored",
    "tune",
)

ERROR_CODES: Final = (
    "bad_json",
    "bad_request",
    "too_long",
    "unknown_op",
    "unknown_game",
    "invalid",
    "refused",
    "not_found",
    "internal",
)


class ProtocolError(Exception):
    """A message that breaks the protocol; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---- the State ----------------------------------------------------------------------
# Decoding (a client reading the agent) ignores fields it does not know, so an agent may
# add one without breaking an older laptop of the same protocol version.
R = TypeVar("R", bound=Struct)
JSONObject = dict[str, Any]  # free-form JSON where it truly is (a trainer's own metrics,
# an event's data, a reply's result)


class Host(Struct, kw_only=True):
    """The "host" key: the machine and this agent's life on it."""

    hostname: str = ""
    boot_id: str = ""
    boot_time: float = 0.0
    agent_version: str = ""
    agent_started: float = 0.0
    now: float = 0.0
    uptime_s: float = 0.0
    reboots_24h: int = 0
    state_dir: str = ""


class GpuProcess(Struct, kw_only=True):
    """A process on a GPU, attributed to a game when it is one of ours."""

    pid: int
    game: str | None
    memory_used: int


class Gpu(Struct, kw_only=True):
    """One GPU now (bytes, %, C, W)."""

    index: int
    name: str
    utilization: float
    memory_used: int
    memory_total: int
    temperature_c: float
    power_w: float
    power_limit_w: float
    processes: list[GpuProcess] = []


class System(Struct, kw_only=True):
    """The "system" key: CPU, RAM, load and free disk where the runs live (all None
    before the agent's first sample)."""

    cpu_percent: float | None = None
    ram_used: int | None = None
    ram_total: int | None = None
    load_avg: list[float] = []
    disk_free: int | None = None
    cpu_count: int | None = None


class Load(Struct, kw_only=True):
    """What a host carried: kept with each heartbeat and shown for each boot (None: not
    recorded, a boot that saw no heartbeat)."""

    games: int | None = None
    trainers: int | None = None
    total_envs: int | None = None
    gpu_memory_used: int | None = None
    gpu_temp_c: float | None = None


class Boot(Struct, kw_only=True):
    """One boot of the host as the agent saw it."""

    boot_id: str
    boot_time: float
    first_seen: float
    last_heartbeat: float
    uptime_s: float
    load: Load = msgspec.field(default_factory=Load)
    prev_boot_id: str | None = None
    uptime_before_s: float | None = None
    downtime_before_s: float | None = None


class Event(Struct, kw_only=True):
    """Something that happened, as the event log keeps it."""

    ts: float
    kind: str  # one of EventKind from this agent; a newer agent's kind is shown as it is
    game: str | None
    message: str
    data: JSONObject = {}


class Checkpoint(Struct, kw_only=True):
    """A game's newest checkpoint."""

    time: float
    global_step: int | float
    episodes: int | float
    file: str | None = None


class Diagnosis(Struct, kw_only=True):
    """Something that looks wrong in a game's learning curve (agent/learning/diagnosis.py)."""

    code: str
    message: str


class GameDefaults(Struct, kw_only=True):
    """What the agent starts a game of its catalogue with when added with no settings
    (its config's [trainer] under the game's own [games.X]): the picker's label."""

    num_envs: int
    num_steps: int
    minibatch_size: int
    target_episodes: int


class GameState(Struct, kw_only=True):
    """One game: what is wanted of it and what its trainer is doing. `settings` is the
    game's whole settings less `command` (a host's own trainer template stays on the
    host); `metrics` is its trainer's newest metrics line, free-form JSON (a trainer of
    the host's own may write any figures; the built-in one writes global_step,
    episodes, episodes_per_hour, sps, return_mean/min/max, rss, time)."""

    game: str
    env_id: str | None
    wanted: bool
    state: GameStatus
    settings: JSONObject
    custom_command: bool = False
    target_episodes: int | None = None
    pid: int | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    next_restart_at: float | None = None
    checkpoint: Checkpoint | None = None
    metrics: JSONObject | None = None
    return_history: list[float] = []
    gpu_memory_used: int | None = None
    added_at: float = 0.0
    # Ranks of its torchrun job (1: a single trainer); `metrics.sps` is the job's sum.
    world_size: int = 1
    gpus: list[int] = []  # the GPUs its trainer was placed on (none: the CPU)
    diagnosis: list[Diagnosis] = []
    span: JobSpan | None = None  # a job over several hosts: this host's part of it
    last_eval: float | None = None  # the newest evaluation's mean score (agent/evaluation/)
    # Its trainer's thread counts, set at its start (None: not started by this agent).
    threads: Threads | None = None


class Threads(Struct, kw_only=True):
    """A trainer's CPU threads as the agent gave them at its start
    (agent/supervision/threads.py): torch's and envpool's counts, whether the agent chose
    any of them (a setting left at 0) and from what: the host's cores and the trainer
    processes it divided them among."""

    torch: int
    envpool: int
    auto: bool = True
    cores: int = 1
    trainers: int = 1  # 0: unknown (a trainer the agent adopted after its own restart)

    @property
    def label(self) -> str:
        """Torch's and envpool's threads as "1+1", a trailing * when the settings chose
        them both (the TUI's pane and `agent status` show this)."""
        return f"{self.torch}+{self.envpool}{'' if self.auto else '*'}"


class JobSpan(Struct, kw_only=True):
    """A game's job over several hosts, as this host's agent runs its part: the job's
    nodes, this host's node rank and its ranks of the job (controlroom/span.py), the
    job's world size, and the rendezvous address and job id every node names."""

    nodes: int
    node_rank: int
    ranks: list[int]
    world_size: int
    rendezvous: str
    job_id: str


class History(Struct, kw_only=True):
    """Recent samples for the gauges, oldest first."""

    gpu_util: list[float] = []
    gpu_mem: list[float] = []
    gpu_temp: list[float] = []
    gpu_power: list[float] = []
    cpu: list[float] = []
    ram: list[float] = []


# ---- the "policy" key (docs/policies.md): what agent/policy publishes -----------------
class RampView(Struct, kw_only=True):
    """The ramp as `agent status` and the TUI show it: its phase, step, ceiling, and the
    next action and when (agent/policy/ramp.py: view)."""

    enabled: bool = False
    phase: str = "off"  # off | waiting | holding | at_ceiling | at_last_step
    step: int = 0
    steps: int = 1
    games: list[str] = []  # the current step's games
    ceiling: int | None = None
    ceiling_games: int | None = None
    stable_since: float | None = None
    stable_s: float = 0.0
    hold: str | None = None  # why the stable window is not counting now
    next_action: str | None = None
    next_action_at: float | None = None
    last_step_at: float | None = None


class GuardBudgets(Struct, kw_only=True):
    """[guard] as the agent uses it (config.GuardConfig's fields and defaults)."""

    max_gpu_memory_fraction: float = GuardConfig.max_gpu_memory_fraction
    max_total_envs: int = GuardConfig.max_total_envs
    max_trainers: int = GuardConfig.max_trainers
    max_gpu_temp_c: float = GuardConfig.max_gpu_temp_c
    max_host_ram_fraction: float = GuardConfig.max_host_ram_fraction
    action_interval_s: float = GuardConfig.action_interval_s
    resume_hold_s: float = GuardConfig.resume_hold_s


class GpuLoad(Struct, kw_only=True):
    """One GPU as the guard weighs it (index -1: a GPU the figures do not name)."""

    index: int
    memory_fraction: float = 0.0
    temp_c: float | None = None


class GuardLoad(Struct, kw_only=True):
    """What the host carries now, as the guard weighs it: the fullest GPU's memory
    share, the hottest GPU, and each GPU."""

    envs: int = 0
    trainers: int = 0
    gpu_memory_fraction: float = 0.0
    gpu_temp_c: float | None = None
    ram_fraction: float | None = None
    gpus: list[GpuLoad] = []


class GuardView(Struct, kw_only=True):
    """The guard: its budgets against the load, what is over now, what it paused."""

    budgets: GuardBudgets = msgspec.field(default_factory=GuardBudgets)
    load: GuardLoad = msgspec.field(default_factory=GuardLoad)
    breach: str | None = None
    paused: list[str] = []  # a stack: the last paused resumes first
    last_refusal: str | None = None


class QueueView(Struct, kw_only=True):
    """The games waiting for a slot, in order, and the slots free for them."""

    waiting: list[str] = []
    free_slots: int = 0


class Shape(Struct, kw_only=True):
    """The settings that change a trainer's speed and load (None: not set)."""

    num_envs: int | None = None
    num_steps: int | None = None
    minibatch_size: int | None = None


class TrialFigures(Struct, kw_only=True):
    """What a trial compares, measured on one side (current settings or candidate)."""

    episodes_per_hour: int | float | None = None
    sps: int | float | None = None
    gpu_memory_used: int | None = None
    gpu_temp_c: float | None = None
    episodes: int | float | None = None
    settings: Shape = msgspec.field(default_factory=Shape)


class ComparisonRow(Struct, kw_only=True):
    """One figure side by side: `current` settings against the `trial`'s."""

    figure: str  # "settings" (a Shape each side) or one of TrialFigures' figures
    current: Shape | int | float | None = None
    trial: Shape | int | float | None = None


class TrialOrigin(Struct, kw_only=True):
    """The checkpoint a beside trial started from."""

    file: str | None = None
    global_step: int | float | None = None
    episodes: int | float | None = None


class TrialRecord(Struct, kw_only=True, tag_field="mode"):
    """A game's running or last trial (policy.trials[game]); `mode` tells which kind.
    The fields set when it ends are UNSET (not sent) before."""

    game: str
    status: str = "running"  # running | finished | abandoned
    started_at: float = 0.0
    ends_at: float = 0.0
    minutes: float = 0.0
    restore_settings: Settings = {}  # the game's settings from before the trial
    before: TrialFigures | None = None
    trial: TrialFigures | None = None
    keep: bool | None = None
    ended_at: float | UnsetType = UNSET
    comparison: list[ComparisonRow] | UnsetType = UNSET
    outcome: str | UnsetType = UNSET


class InsteadTrial(TrialRecord, tag="instead"):
    """Candidate settings in place of the current ones (agent/policy/trial.py)."""

    snapshot: str | None = None  # taken before the trial; restored to discard it
    discarded: bool | UnsetType = UNSET


class BesideTrial(TrialRecord, tag="beside"):
    """Candidate settings in a second trainer next to the game's (agent/policy/beside.py);
    `decision` stays None until the user keeps or discards it."""

    dir: str = ""
    from_checkpoint: TrialOrigin = msgspec.field(default_factory=TrialOrigin)
    settings: Settings = {}  # the candidate's
    current: TrialFigures | None = None
    decision: str | None = None  # kept | discarded
    pid: int | None = None
    create_time: float | None = None
    cmdline: list[str] = []
    ended_because: str | UnsetType = UNSET
    trial_checkpoint: Checkpoint | UnsetType | None = UNSET
    snapshot: str | UnsetType = UNSET  # taken when the trial's learning was kept


AnyTrial = InsteadTrial | BesideTrial


class Costing(Struct, kw_only=True):
    """Hours of work turned into days and dollars, with and without downtime."""

    hours: float
    days: float
    cost: float
    downtime_share: float
    effective_days: float
    effective_cost: float


class PlanGame(Struct, kw_only=True):
    """One game's row of the host's plan."""

    game: str
    episodes: int
    target: int
    episodes_per_hour: float | None = None
    estimated: bool = False  # the rate is borrowed from other games, not measured
    hours_to_target: float | None = None
    queued: bool = False


class HostPlan(Struct, kw_only=True):
    """The host's games to target: each, all in parallel, and with the queue."""

    games: list[PlanGame] = []
    price_per_hour: float = 0.0
    downtime_share: float = 0.0
    parallel: Costing | None = None
    with_queue: Costing | None = None


class ProfileRow(Struct, kw_only=True):
    """One row of the profile comparison: all the work done with one profile."""

    profile: str
    games: int
    num_envs: int
    minibatch_size: int
    total_envs: int
    measured_games: int = 0
    episodes_per_hour: float | None = None
    gpu_memory_used: int | None = None
    downtime_measured: bool = False
    hours: float | None = None
    days: float | None = None
    cost: float | None = None
    downtime_share: float | None = None
    effective_days: float | None = None
    effective_cost: float | None = None


class Plan(Struct, kw_only=True):
    """The plan (op `plan`, and policy.plan): the host's, the profile comparison, and
    the downtime they are costed with (overall, and by games running)."""

    computed_at: float = 0.0
    host: HostPlan = msgspec.field(default_factory=HostPlan)
    profiles: list[ProfileRow] = []
    downtime_share: float = 0.0
    downtime_by_load: dict[str, float] = {}  # games running (as text) -> downtime share
    boots: int = 0


class SnapshotMeta(Struct, kw_only=True):
    """A game's snapshot (agent/policy/migration.py): why it was taken, and the settings
    and progress it holds, as its meta.json keeps them."""

    game: str
    time: float
    reason: str = ""  # migrate | trial
    settings: Settings = {}
    checkpoint: Checkpoint | None = None
    wanted: bool = True


class SnapshotEntry(SnapshotMeta, kw_only=True):
    """A snapshot as rollback lists them: its name (its folder), then its meta."""

    name: str


# ---- tune (issue 20; agent/policy/tune.py, tune_search.py) -----------------------------
TUNE_VERDICTS: Final = (
    "ok",  # measured, and the ladder climbed past it
    "unstable",  # crashed, hung (no steady metrics in time), or the host rebooted under it
    # (`reason` says which): the game's tune ceiling is learned, as the ramp's is
    "over_budget",  # a guard budget it would cross (from the memory per env measured)
    "diminishing",  # less gain over the best rung below than [tune].min_gain
    "hot",  # the GPU reached the guard's max_gpu_temp_c while it ran
    "pending",  # not run yet
    "running",  # being measured now
)
TUNE_STATUSES: Final = ("running", "finished", "abandoned", "cancelled", "failed")


class TuneRung(Struct, kw_only=True):
    """One shape of a tune's ladder and what it measured at steady state (after its
    warm-up). `steps_per_s` is the host's summed steps/s (every running game's: the
    measure the ladder climbs on), `game_steps_per_s` the tuned game's own."""

    num_envs: int
    minibatch_size: int
    threads: int | None = None  # the torch_threads setting it runs with (None: left to the agent)
    # The candidate trainer's torch+envpool threads as it ran ("1+1", Threads.label): the
    # agent's share when the setting is left to it; None until measured.
    ran_threads: str | None = None
    verdict: str = "pending"  # one of TUNE_VERDICTS
    reason: str = ""  # why this verdict, as a line
    steps_per_s: float | None = None
    game_steps_per_s: float | None = None
    eps_per_h: float | None = None
    gpu_mem_per_env: float | None = None  # bytes of GPU memory per env (None: no GPU)
    rss: int | None = None  # the candidate's host RAM, bytes
    cpu: float | None = None  # the host's CPU percent
    temp_c: float | None = None  # the hottest GPU's temperature
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def threads_label(self) -> str | None:
        """The threads its trainer ran with ("1+1"), else its torch setting, else None
        (the TUI's table and `agent tune` show this)."""
        return self.ran_threads or (None if self.threads is None else str(self.threads))


class TuneFigures(Struct, kw_only=True):
    """The plan's figures for the game to its target: days and cost (None: not known)."""

    episodes_per_hour: float | None = None
    days: float | None = None
    cost: float | None = None


class TuneState(Struct, kw_only=True):
    """A game's running or last tune (policy.tunes[game]): its ladder, its verdict, the
    shape it chose and the plan's figures before and after."""

    game: str
    status: str = "running"  # one of TUNE_STATUSES
    minutes: float = 0.0
    rung_s: float = 0.0  # seconds each rung runs (warm-up and measure)
    restore_settings: Settings = {}  # the game's shape before the tune
    snapshot: str | None = None  # taken before the ladder; the game's progress
    rungs: list[TuneRung] = []
    current: int | None = None  # the rung running now (index in rungs)
    # The game's own shape measured again after a climb that found a faster rung: the
    # rungs run one after another, and a host whose speed drifts meanwhile would credit
    # the drift to a rung (tune_search.confirmed). None until a climb needs it.
    recheck: TuneRung | None = None
    chosen: TuneRung | None = None
    reason: str = ""  # why the ladder stopped where it did
    ceiling: int | None = None  # num_envs this game was unstable at (the ladder stays below)
    waiting: bool = False  # queued behind another game's tune (op tune over several games)
    before: TuneFigures = msgspec.field(default_factory=TuneFigures)
    after: TuneFigures = msgspec.field(default_factory=TuneFigures)
    applied: bool = False
    started_at: float = 0.0
    ended_at: float | None = None

    @property
    def rechecking(self) -> bool:
        """The game's own shape is being measured again (after the climb)."""
        return self.recheck is not None and self.recheck.verdict == "running"

    def rows(self) -> list[tuple[str, TuneRung]]:
        """The rungs as the tables show them (the TUI's, `agent tune`'s), each with its
        envs as a label: the ladder's, then the recheck, "8 again"."""
        out = [(str(r.num_envs), r) for r in self.rungs]
        if self.recheck is not None:
            out.append((f"{self.recheck.num_envs} again", self.recheck))
        return out


class PolicyState(Struct, kw_only=True):
    """The "policy" key (docs/policies.md): the applied profile, the ramp's and the
    guard's views, the queue, trials by game and the plan. An agent without a policy
    engine leaves ramp, guard, queue and plan None."""

    profile: str | None = None
    ramp: RampView | None = None
    guard: GuardView | None = None
    queue: QueueView | None = None
    trials: dict[str, AnyTrial] = {}
    plan: Plan | None = None
    tunes: dict[str, TuneState] = {}  # each game's running or last tune

    @property
    def engine(self) -> bool:
        """Whether the agent runs a policy engine (one without sends an empty policy)."""
        return self.guard is not None or self.ramp is not None


class AlertOutcome(Struct, kw_only=True):
    """One alert sent or failed, as the alerts state shows it (no secret: URLs redacted)."""

    time: float
    title: str
    detail: str = ""


class AlertsState(Struct, kw_only=True):
    """The "alerts" key: what the agent sends and where (URLs redacted), and how it went.
    `problem` says why alerts are off when they were configured (a config others can
    read, apprise missing)."""

    enabled: bool = False
    urls: list[str] = []
    kinds: list[str] = []
    heartbeat_url: str = ""
    heartbeat_every_s: float = 0.0
    last_ping: float | None = None
    ping_error: str | None = None
    command: str = ""
    problem: str | None = None
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    last_sent: AlertOutcome | None = None
    last_failed: AlertOutcome | None = None


class State(Struct, kw_only=True):
    """The whole State: a snapshot's, and the status op's result."""

    host: Host = msgspec.field(default_factory=Host)
    gpus: list[Gpu] = []
    gpu_error: str | None = None
    system: System = msgspec.field(default_factory=System)
    games: dict[str, GameState] = {}
    boots: list[Boot] = []
    events: list[Event] = []
    policy: PolicyState = msgspec.field(default_factory=PolicyState)
    history: History = msgspec.field(default_factory=History)
    catalogue: list[str] = []
    game_defaults: dict[str, GameDefaults] = {}
    alerts: AlertsState = msgspec.field(default_factory=AlertsState)


class StateUpdate(Struct, kw_only=True):
    """A partial State: only the keys that changed are set (UNSET ones are not sent).
    `games` merges per game, a None removing that game; every other key replaces the
    whole value (apply_state_update)."""

    host: Host | UnsetType = UNSET
    gpus: list[Gpu] | UnsetType = UNSET
    gpu_error: str | UnsetType | None = UNSET
    system: System | UnsetType = UNSET
    games: dict[str, GameState | None] | UnsetType = UNSET
    boots: list[Boot] | UnsetType = UNSET
    events: list[Event] | UnsetType = UNSET
    policy: PolicyState | UnsetType = UNSET
    history: History | UnsetType = UNSET
    catalogue: list[str] | UnsetType = UNSET
    game_defaults: dict[str, GameDefaults] | UnsetType = UNSET
    alerts: AlertsState | UnsetType = UNSET


# ---- agent -> client messages ---------------------------------------------------------
class Hello(Struct, tag_field="type", tag="hello", kw_only=True):
    """The agent's first line: who it is and which protocol it speaks."""

    protocol: int
    version: str
    hostname: str
    boot_id: str


class Snapshot(Struct, tag_field="type", tag="snapshot", kw_only=True):
    """The whole State, right after hello."""

    state: State


class Update(Struct, tag_field="type", tag="update", kw_only=True):
    """What changed in the State."""

    state: StateUpdate


class EventMessage(Struct, tag_field="type", tag="event", kw_only=True):
    """An event as it happens."""

    event: Event


class ErrorBody(Struct, kw_only=True):
    """Why a request failed: `code` one of ERROR_CODES."""

    code: str
    message: str


class Reply(Struct, tag_field="type", tag="reply", kw_only=True):
    """The answer to one request: ok with a result, or not ok with an error."""

    id: int | str | None
    ok: bool
    result: JSONObject | UnsetType = UNSET
    error: ErrorBody | UnsetType = UNSET


AgentMessage = Hello | Snapshot | Update | EventMessage | Reply
_AGENT_MESSAGE: Final[msgspec.json.Decoder[AgentMessage]] = msgspec.json.Decoder(AgentMessage)


# ---- client -> agent: each op's arguments ---------------------------------------------
Int64 = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]


class Args(Struct, kw_only=True, forbid_unknown_fields=True):
    """An op's arguments; a subclass per op, named in OPS. Unknown arguments, missing
    ones and values of the wrong type are a bad_request naming the argument; a setting
    or budget out of the bounds config.py declares is `invalid` (as in config.toml)."""


class NoArgs(Args):
    """An op that takes nothing."""


class GameArgs(Args):
    """An op on one game."""

    game: str


class AddGame(GameArgs):
    """Want a game, with settings of the client's over the host's config."""

    settings: JSONObject = {}

    def __post_init__(self) -> None:
        check_settings(self.settings)


class ScaleGame(GameArgs):
    """Change a game's env count."""

    num_envs: Int64

    def __post_init__(self) -> None:
        check_settings({"num_envs": self.num_envs})


class Shutdown(Args):
    """Exit the agent, its trainers stopped first when asked."""

    stop_trainers: bool = False


class Events(Args):
    """A page of the event log (see the module docstring)."""

    limit: Int64 = 100
    since: float | None = None
    before: Int64 | None = None


class GameLog(GameArgs):
    """The tail of a game's trainer log."""

    lines: Int64 = 200


class ApplyProfile(Args):
    """Converge to a profile, or only show the plan; `tuned`: each game with its tuned
    shape (its last finished tune's chosen one) where it has one."""

    name: str
    dry_run: bool = False
    tuned: bool = False


class SetRamp(Args):
    """Turn the gradual ramp on or off."""

    enabled: bool


class Migrate(GameArgs):
    """Change a game's settings keeping its progress."""

    settings: JSONObject

    def __post_init__(self) -> None:
        check_settings(self.settings)


class Trial(GameArgs):
    """Run candidate settings for a while, instead of or beside the current ones."""

    settings: JSONObject
    minutes: float
    keep: bool | None = None
    mode: str = "instead"

    def __post_init__(self) -> None:
        check_settings(self.settings)


class TrialDecide(GameArgs):
    """Keep or discard a beside trial's learning."""

    keep: bool


class SetGuard(Args):
    """New guard budgets."""

    budgets: JSONObject

    def __post_init__(self) -> None:
        self.budgets = check_budgets(self.budgets)


class SetQueue(Args):
    """The waiting games, in order."""

    games: list[str]


class LearningHistory(GameArgs):
    """A game's learning history (op `history`), whole or after a cursor."""

    run: str = "main"
    after: float | None = None


MAX_EVAL_EPISODES: Final = 100  # one evaluation over the wire; the evaluator takes 1000


class Evaluate(GameArgs):
    """Evaluate a game's policy from one of its checkpoints (op `evaluate`): `checkpoint`
    is "latest" (the newest that verifies) or a checkpoint's file name; `device` where the
    policy runs (the CPU unless asked: it takes no GPU memory from training)."""

    episodes: Annotated[int, Meta(ge=1, le=MAX_EVAL_EPISODES)] = 10
    checkpoint: Annotated[str, Meta(pattern=r"^(latest|ckpt-[0-9]{12}\.pt)$")] = "latest"
    device: Annotated[str, Meta(pattern=r"^(cpu|cuda|cuda:[0-9]{1,2})$")] = "cpu"


MAX_RECORD_EPISODES: Final = 10  # a video of more is long and large; record it twice


class Record(GameArgs):
    """Record a video of a game's policy playing (op `record`): the evaluation's episodes
    played one after another by one env, as an MP4 the agent keeps in the game's run dir
    (videos/, the mean score in its name and the scores in its metadata)."""

    episodes: Annotated[int, Meta(ge=1, le=MAX_RECORD_EPISODES)] = 1
    checkpoint: Annotated[str, Meta(pattern=r"^(latest|ckpt-[0-9]{12}\.pt)$")] = "latest"


WATCH_FPS: Final = 15.0  # Atari's real time (60 Hz, frame skip 4); the TUI polls at it


class Watch(GameArgs):
    """Watch a game's policy play one episode (op `watch`), as a cursor-based poll: with
    no `stream` it starts one and names it; then each call with that `stream` and the
    last frame's `i` as `after` gets the newest frame after it (none when none is new),
    so a watcher polling at WATCH_FPS sees a steady picture and never more than one
    frame a poll. `stop` ends the stream; one not polled for a while ends by itself."""

    stream: Annotated[str, Meta(pattern=r"^[0-9a-f]{0,32}$")] = ""
    after: Annotated[int, Meta(ge=-1, le=2**63 - 1)] = -1
    stop: bool = False


MAX_TUNE_GAMES: Final = 32


class Tune(Args):
    """Tune games in sequence (op `tune`): a ladder of shapes for each, `minutes` in all
    per game; `dry_run` only shows the ladder and the time per rung."""

    games: Annotated[list[str], Meta(min_length=1, max_length=MAX_TUNE_GAMES)]
    minutes: Annotated[float, Meta(gt=0, le=24 * 60)] = 12.0
    dry_run: bool = False


class TuneApply(GameArgs):
    """Apply a game's finished tune's chosen shape (a migration with a snapshot)."""


class TuneCancel(Args):
    """Stop the running tune (and the games waiting behind it): the candidate stops,
    the game goes back to its shape from before."""


# op -> its arguments. The agent answers any other op with unknown_op.
OPS: Final[dict[str, type[Args]]] = {
    "ping": NoArgs,
    "status": NoArgs,
    "add_game": AddGame,
    "remove_game": GameArgs,
    "start_game": GameArgs,
    "stop_game": GameArgs,
    "scale_game": ScaleGame,
    "stop_all": NoArgs,
    "shutdown": Shutdown,
    "reboots": NoArgs,
    "events": Events,
    "game_log": GameLog,
    "apply_profile": ApplyProfile,
    "set_ramp": SetRamp,
    "migrate": Migrate,
    "rollback": GameArgs,
    "trial": Trial,
    "trial_decide": TrialDecide,
    "set_guard": SetGuard,
    "plan": NoArgs,
    "set_queue": SetQueue,
    "reset_ceiling": NoArgs,
    "history": LearningHistory,
    "evaluate": Evaluate,
    "record": Record,
    "watch": Watch,
    "tune": Tune,
    "tune_status": NoArgs,
    "tune_apply": TuneApply,
    "tune_cancel": TuneCancel,
}


# ---- what the core ops answer (Reply.result) -------------------------------------------
class Pong(Struct, kw_only=True):
    """ping: alive, and the agent's clock."""

    pong: bool
    now: float


class GameChange(Struct, kw_only=True):
    """add_game, scale_game (with `changed`), start_game and stop_game: the game now."""

    game: GameState
    changed: bool | UnsetType = UNSET


class Removed(Struct, kw_only=True):
    """remove_game: the game forgotten."""

    removed: str


class Stopped(Struct, kw_only=True):
    """stop_all, shutdown: the games whose trainers were stopped."""

    stopped: list[str]
    stopping: bool | UnsetType = UNSET  # shutdown: the agent exits after its reply


class Boots(Struct, kw_only=True):
    """reboots: every boot seen, oldest first."""

    boots: list[Boot]


class EventPage(Struct, kw_only=True):
    """events: a page, oldest first; `next_before` the cursor for older ones when `more`."""

    events: list[Event]
    more: bool = False
    next_before: int | UnsetType = UNSET


class GameLogTail(Struct, kw_only=True):
    """game_log: the tail of a trainer's log and of its metrics lines."""

    game: str
    path: str
    lines: list[str]
    metrics: list[str] = []


class Mark(Struct, kw_only=True):
    """A moment on a learning curve: a start, a crash, a migration (one of MARK_KINDS)."""

    time: float
    global_step: int | None
    kind: str
    message: str


class LearningCurve(Struct, kw_only=True):
    """history: a game's learning curve, one row per update (values in HISTORY_COLUMNS'
    order, null where the trainer did not say), the marks on it, the cursor for the next
    request and what looks wrong in it."""

    game: str
    run: str
    columns: list[str]
    rows: list[list[int | float | None]]
    marks: list[Mark]
    cursor: float | None
    diagnosis: list[Diagnosis] = []


class Reference(Struct, kw_only=True):
    """A game's published random and human scores (controlroom/reference_scores.py)."""

    random: float
    human: float


class Evaluation(Struct, kw_only=True):
    """evaluate: the scores of N episodes of a checkpoint's policy (the evaluator's
    --json, controlroom/trainer/evaluate.py). `policy` is "greedy" or "sampled";
    `capped` counts episodes cut short; `human_normalized` is (mean - random) /
    (human - random), null for a game without reference scores."""

    game: str
    checkpoint: str
    global_step: int
    checkpoint_time: float
    episodes: int
    policy: str
    device: str
    seed: int
    scores: list[float]
    lengths: list[int]
    capped: int
    mean: float
    median: float
    min: float
    max: float
    length_mean: float
    length_min: int
    length_max: int
    human_normalized: float | None
    reference: Reference | None
    seconds: float
    time: float
    video: str | None = None  # a recording's file (op `record`), and its frame count
    frames: int | None = None


class WatchFrame(Struct, kw_only=True):
    """One frame of a watched episode: its number, size, and the PNG, base64."""

    i: int
    width: int
    height: int
    png: str


class WatchFrames(Struct, kw_only=True):
    """watch: the stream's name and the newest frame after the cursor (if any); `done`
    once the episode ended (`score`) or failed (`error`)."""

    stream: str
    fps: float
    frames: list[WatchFrame] = []
    done: bool = False
    score: float | None = None
    error: str | None = None


# ---- what the policy ops answer (agent/policy/policy_ops.py) ---------------------------
class ProfileAction(Struct, kw_only=True):
    """One line of a profile's plan: what it does to a game, and the line it reads as."""

    kind: str  # stop | migrate | start | keep | skip (a part of a job over several hosts)
    game: str
    settings: Settings  # what the game runs with afterwards (empty for stop)
    before: Settings  # its shape and GPUs now (empty when not running)
    text: str


class ProfilePlan(Struct, kw_only=True):
    """apply_profile: the plan (carried out unless a dry run) and the guard's verdict."""

    profile: str
    dry_run: bool
    actions: list[ProfileAction]
    total_envs: int
    verdict: str | None


class RampChange(Struct, kw_only=True):
    """set_ramp, reset_ceiling: the ramp now."""

    ramp: RampView


class Migration(Struct, kw_only=True):
    """migrate: the game now, and the snapshot taken first (None: nothing changed)."""

    game: GameState
    changed: bool
    snapshot: str | None


class Rollback(Struct, kw_only=True):
    """rollback: the game now, the snapshot restored, and the snapshots left."""

    game: GameState
    snapshot: str
    restored: SnapshotMeta
    snapshots: list[SnapshotEntry]


class TrialChange(Struct, kw_only=True):
    """trial, trial_decide: the trial's record."""

    trial: AnyTrial


class TuneChange(Struct, kw_only=True):
    """tune, tune_status, tune_cancel: the tunes by game (running, waiting, last), and
    the games waiting their turn. A dry run's tunes hold the ladder planned (every rung
    "pending") and are not started."""

    tunes: dict[str, TuneState]
    waiting: list[str] = []
    dry_run: bool = False


class TuneApplied(Struct, kw_only=True):
    """tune_apply: the tune applied and the migration that applied it."""

    tune: TuneState
    migration: Migration


class GuardChange(Struct, kw_only=True):
    """set_guard: the budgets now."""

    budgets: GuardBudgets


class QueueChange(Struct, kw_only=True):
    """set_queue: the queue now."""

    queue: QueueView


# What an op answers: its result Struct (reply_ok also takes a plain JSON object).
Result = Struct | JSONObject


def as_result(result: JSONObject, kind: type[R]) -> R:
    """An op's result (plain JSON, as a Reply carries it) as its Struct, validated;
    ProtocolError("bad_request") naming the field otherwise."""
    try:
        return msgspec.convert(result, kind)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_request", f"result: {_readable(exc, 'field')}") from None


class Request(Struct, kw_only=True):
    """One validated request: `args` is the op's own Args."""

    id: int | str | None
    op: str
    args: Args


# ---- settings and budgets: the bounds config.py declares ------------------------------
GUARD_BUDGETS: Final = tuple(f.name for f in dataclasses.fields(GuardConfig))


def check_settings(settings: JSONObject) -> None:
    """Refuse a setting a client may not send, or a value config.toml would refuse
    (wrong type, out of range): ProtocolError("invalid") naming the key."""
    for key, value in settings.items():
        if key not in CLIENT_SETTINGS:
            known = ", ".join(CLIENT_SETTINGS)
            raise ProtocolError("invalid", f"unknown setting {key!r}; known: {known}")
        try:
            check_value(SETTING_SECTIONS[key], key, value)
        except ConfigError as exc:
            raise ProtocolError("invalid", str(exc)) from None


def check_budgets(budgets: JSONObject) -> JSONObject:
    """Guard budgets, each checked against [guard]'s type and bounds (an int for a float
    budget becomes a float); ProtocolError("invalid") naming the key otherwise."""
    unknown = sorted(set(budgets) - set(GUARD_BUDGETS))
    if unknown:
        raise ProtocolError(
            "invalid",
            f"unknown guard budget {', '.join(unknown)}; known: {', '.join(GUARD_BUDGETS)}",
        )
    try:
        return {k: check_value(GuardConfig, k, v) for k, v in budgets.items()}
    except ConfigError as exc:
        raise ProtocolError("invalid", f"guard.{exc}") from None


_ENCODER: Final = msgspec.json.Encoder()


def encode(message: Struct | JSONObject) -> bytes:
    """One message (a Struct, or the plain JSON object a client builds) as one UTF-8
    JSON line. A non-finite number is refused (ValueError): the wire has none."""
    return json.dumps(plain(message), separators=(",", ":"), allow_nan=False).encode() + b"\n"


def plain(message: Struct | JSONObject) -> JSONObject:
    """A message as plain JSON data: Structs, in it or itself, as objects (UNSET fields
    left out), enums as their values; a float stays as it is (encode refuses NaN)."""
    out: JSONObject = msgspec.to_builtins(message)
    return out


def finite(value: Any) -> Any:
    """A copy of a JSON value with every non-finite float (NaN, ±inf) made null: the
    last resort of a sender that finds one in its own state (encode refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(sub) for key, sub in value.items()}
    if isinstance(value, list | tuple):
        return [finite(sub) for sub in value]
    return value


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object, or raise ProtocolError.

    NaN, Infinity and numbers that overflow a double (1e999) are refused here: Python's
    json takes them, but nothing downstream may hold a value that cannot be sent back."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError("too_long", f"line of {len(line)} bytes > {MAX_LINE_BYTES}")
    try:
        obj = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ProtocolError("bad_json", "not JSON: nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit int
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ProtocolError("bad_json", f"{name} is not a finite number; JSON has none")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError("bad_json", f"{text[:40]} is not a finite number (beyond ±1.8e308)")
    return value


def decode_message(line: bytes) -> AgentMessage:
    """One line from the agent as its message, validated (a client's read); raises
    ProtocolError ("bad_json" for what is not JSON, "bad_request" for a message of the
    wrong shape)."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError("too_long", f"line of {len(line)} bytes > {MAX_LINE_BYTES}")
    try:
        return _AGENT_MESSAGE.decode(line)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_request", f"agent message: {exc}") from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None


def request(req_id: int | str, op: str, **args: Any) -> JSONObject:
    """A client request message."""
    return {"id": req_id, "op": op, "args": args}


def parse_request(obj: JSONObject) -> Request:
    """Validate a decoded request: the envelope, then the op's Args Struct (msgspec),
    after the checks every value gets (check_values). Raises ProtocolError."""
    req_id = obj.get("id")
    if req_id is not None and (not isinstance(req_id, int | str) or isinstance(req_id, bool)):
        raise ProtocolError("bad_request", "id must be an integer or a string")
    op, args = obj.get("op"), obj.get("args", {})
    if not isinstance(op, str):
        raise ProtocolError("bad_request", "op must be a string")
    if op not in OPS:
        raise ProtocolError("unknown_op", f"unknown op {op!r}; known: {', '.join(OPS)}")
    if not isinstance(args, dict):
        raise ProtocolError("bad_request", "args must be an object")
    check_values(args, op)
    try:
        typed = msgspec.convert(args, OPS[op], strict=True)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_request", f"{op}: {_readable(exc)}") from None
    return Request(id=req_id, op=op, args=typed)


def _readable(exc: msgspec.ValidationError, field: str = "argument") -> str:
    """msgspec's "Expected `int`, got `str` - at `$.limit`" as "limit: expected `int`,
    got `str`" (the argument first: it is what the user must change)."""
    text = str(exc).replace("Object contains unknown field", f"unknown {field}")
    text = text.replace("Object missing required field", f"missing {field}")
    what, sep, where = text.rpartition(" - at `$")
    if not sep:
        return text
    return f"{where.rstrip('`').lstrip('.')}: {what[:1].lower()}{what[1:]}"


def check_values(value: Any, where: str) -> None:
    """Refuse what no op can use and what would fail deep inside one (SQLite has no
    integer beyond 64 bits, UTF-8 no lone surrogate): nesting deeper than MAX_ARG_DEPTH,
    integers outside int64, strings that are not valid Unicode. Raises bad_request."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_ARG_DEPTH:
            raise ProtocolError("bad_request", f"{path}: nested deeper than {MAX_ARG_DEPTH}")
        if isinstance(item, dict):
            for key, sub in item.items():
                _check_text(key, path)
                stack.append((sub, f"{path}.{_shown_key(key)}", depth + 1))
        elif isinstance(item, list):
            stack.extend((sub, f"{path}[{i}]", depth + 1) for i, sub in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, int) and not INT_MIN <= item <= INT_MAX:
            raise ProtocolError(
                "bad_request", f"{path}: integer out of range (a value must fit in 64 bits)"
            )


def _check_text(text: str, path: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise ProtocolError(
                "bad_request", f"{path}: a string with a lone surrogate (not valid Unicode)"
            ) from None


def _shown_key(key: str) -> str:
    return key[:40] if key.isascii() and key.isprintable() else repr(key)[:40]


def reply_ok(req_id: int | str | None, result: Result | None = None) -> Reply:
    """A successful reply."""
    body = msgspec.to_builtins(result) if isinstance(result, Struct) else result
    return Reply(id=req_id, ok=True, result=body or {})


def reply_error(req_id: int | str | None, code: str, message: str) -> Reply:
    """A failed reply."""
    return Reply(id=req_id, ok=False, error=ErrorBody(code=code, message=message))


def hello(hostname: str, boot_id: str) -> Hello:
    """The agent's first line."""
    return Hello(protocol=PROTOCOL_VERSION, version=__version__, hostname=hostname, boot_id=boot_id)


def check_hello(obj: JSONObject | Hello) -> None:
    """Raise ProtocolError unless `obj` is a hello this client can talk to. Read before
    anything else is decoded: a peer of another protocol may send another shape."""
    plain = msgspec.to_builtins(obj) if isinstance(obj, Hello) else obj
    if plain.get("type") != "hello":
        raise ProtocolError("bad_request", f"expected hello, got {plain.get('type')!r}")
    theirs = plain.get("protocol")
    if theirs != PROTOCOL_VERSION:
        raise ProtocolError(
            "invalid",
            f"agent speaks protocol {theirs} (controlroom {plain.get('version')}); this "
            f"client speaks {PROTOCOL_VERSION} (controlroom {__version__}): upgrade the "
            "older side",
        )


def as_state(plain: JSONObject) -> State:
    """A State from plain JSON (a recorded one, a status reply), validated;
    ProtocolError("bad_request") naming the field otherwise."""
    try:
        return msgspec.convert(plain, State)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_request", f"state: {_readable(exc, 'field')}") from None


def apply_state_update(state: State, delta: StateUpdate) -> State:
    """Apply an update to a State: the keys `delta` sets replace the State's,
    `games` merging per game (None removes one). In place; returns `state`."""
    for name in delta.__struct_fields__:
        value = getattr(delta, name)
        if value is UNSET:
            continue
        if name == "games":
            for game, game_state in value.items():
                if game_state is None:
                    state.games.pop(game, None)
                else:
                    state.games[game] = game_state
        else:
            setattr(state, name, value)
    return state
