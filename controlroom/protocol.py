"""The wire between the TUI (or host CLI) and the agent: the one module both halves share.

JSON, one object per line, UTF-8. Every agent -> client message has a "type":

- ``hello``    first line on connect: {"type": "hello", "protocol": 1, "version": "0.1.0",
               "hostname": str, "boot_id": str}
- ``snapshot`` right after hello: {"type": "snapshot", "state": <State>}
- ``update``   a delta: {"type": "update", "state": <partial State>}; see `apply_update`
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
- policy: {profile, ramp: {...}, guard: {...}, plan: {...}}  (filled by the policy issue)
- catalogue: [str]  the game names this host can run (the built-in catalogue, or the
            [games] of a host whose trainer is its own `command`); the picker offers these
- history: {gpu_util: [float], gpu_mem: [float], gpu_temp: [float], gpu_power: [float],
            cpu: [float], ram: [float]}  recent samples for the gauges, oldest first

GameState: {game, env_id, wanted: bool, state: one of GAME_STATES, settings: {num_envs,
num_steps, minibatch_size, ...}, target_episodes, pid, started_at, restarts,
last_exit: str|null, next_restart_at: float|null, checkpoint: {time, global_step,
episodes}|null, metrics: {global_step, episodes, episodes_per_hour, sps,
return_mean, return_min, return_max, time}|null, return_history: [float],
gpu_memory_used: int|null, added_at, diagnosis: [{code, message}] (what looks wrong in
its learning curve, agent/diagnosis.py; empty when nothing does)}

Event: {ts, kind (one of EVENT_KINDS), game: str|null, message: str, data: {...}}
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from controlroom import __version__

PROTOCOL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 1 << 20  # a line longer than this is refused, never buffered whole
REPLY_BUDGET: Final = MAX_LINE_BYTES // 2  # what a paged reply (events) carries at most
MAX_ARG_DEPTH: Final = 8  # settings and budgets are flat; deeper is never meant
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # SQLite's INTEGER, and any sane count or time

GAME_STATES: Final = (
    "starting",
    "running",
    "stopping",
    "stopped",
    "crashed",
    "backoff",
    "crash_loop",
    "hung",
    "paused",
    "done",
)

EVENT_KINDS: Final = (
    "agent_started",
    "game_added",
    "game_removed",
    "game_scaled",
    "trainer_started",
    "trainer_stopped",
    "trainer_exited",
    "crash",
    "restart",
    "crash_loop",
    "hung",
    "adopted",
    "reboot",
    "checkpoint",
    "ramp_step",
    "ramp_ceiling",
    "guard_refused",
    "guard_paused",
    "guard_resumed",
    "migrated",
    "rolled_back",
    "profile_applied",
    "trial_started",
    "trial_finished",
    "trial_decided",
    "guard_changed",
    "target_reached",
    "queue_started",
    "error",
)

# op -> {arg name: (type, required)}. The agent rejects anything else with bad_request.
_INT, _STR, _BOOL, _NUM, _DICT = (int,), (str,), (bool,), (int, float), (dict,)
_LIST = (list,)
_NUM_OR_NULL = (int, float, type(None))
OPS: Final[dict[str, dict[str, tuple[tuple[type, ...], bool]]]] = {
    "ping": {},
    "status": {},
    "add_game": {"game": (_STR, True), "settings": (_DICT, False)},
    "remove_game": {"game": (_STR, True)},
    "start_game": {"game": (_STR, True)},
    "stop_game": {"game": (_STR, True)},
    "scale_game": {"game": (_STR, True), "num_envs": (_INT, True)},
    "stop_all": {},
    "shutdown": {"stop_trainers": (_BOOL, False)},
    "reboots": {},
    "events": {"limit": (_INT, False), "since": (_NUM, False), "before": (_INT, False)},
    "game_log": {"game": (_STR, True), "lines": (_INT, False)},
    "apply_profile": {"name": (_STR, True), "dry_run": (_BOOL, False)},
    "set_ramp": {"enabled": (_BOOL, True)},
    "migrate": {"game": (_STR, True), "settings": (_DICT, True)},
    "rollback": {"game": (_STR, True)},
    "trial": {
        "game": (_STR, True),
        "settings": (_DICT, True),
        "minutes": (_NUM, True),
        "keep": (_BOOL, False),
        "mode": (_STR, False),
    },
    "trial_decide": {"game": (_STR, True), "keep": (_BOOL, True)},
    "set_guard": {"budgets": (_DICT, True)},
    "plan": {},
    "set_queue": {"games": (_LIST, True)},
    "reset_ceiling": {},
    "history": {"game": (_STR, True), "run": (_STR, False), "after": (_NUM_OR_NULL, False)},
}

# The learning view's data (op `history`; agent/history.py keeps it, the TUI plots it).
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


def encode(message: dict[str, Any]) -> bytes:
    """One message as one UTF-8 JSON line."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


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


def request(req_id: int | str, op: str, **args: Any) -> dict[str, Any]:
    """A client request message."""
    return {"id": req_id, "op": op, "args": args}


def parse_request(obj: dict[str, Any]) -> tuple[int | str | None, str, dict[str, Any]]:
    """Validate a decoded request against OPS; return (id, op, args) or raise."""
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
    _check_args(op, args)
    check_values(args, op)
    return req_id, op, args


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


def _check_args(op: str, args: dict[str, Any]) -> None:
    spec = OPS[op]
    for name in args:
        if name not in spec:
            raise ProtocolError("bad_request", f"{op}: unknown argument {name!r}")
    for name, (types_, required) in spec.items():
        if name not in args:
            if required:
                raise ProtocolError("bad_request", f"{op}: missing argument {name!r}")
            continue
        value = args[name]
        if (isinstance(value, bool) and bool not in types_) or not isinstance(value, types_):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types_)
            raise ProtocolError("bad_request", f"{op}: {name} must be {want}")


def reply_ok(req_id: int | str | None, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A successful reply."""
    return {"type": "reply", "id": req_id, "ok": True, "result": result or {}}


def reply_error(req_id: int | str | None, code: str, message: str) -> dict[str, Any]:
    """A failed reply."""
    return {"type": "reply", "id": req_id, "ok": False, "error": {"code": code, "message": message}}


def hello(hostname: str, boot_id: str) -> dict[str, Any]:
    """The agent's first line."""
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "version": __version__,
        "hostname": hostname,
        "boot_id": boot_id,
    }


def check_hello(obj: dict[str, Any]) -> None:
    """Raise ProtocolError unless `obj` is a hello this client can talk to."""
    if obj.get("type") != "hello":
        raise ProtocolError("bad_request", f"expected hello, got {obj.get('type')!r}")
    theirs = obj.get("protocol")
    if theirs != PROTOCOL_VERSION:
        raise ProtocolError(
            "invalid",
            f"agent speaks protocol {theirs} (controlroom {obj.get('version')}); this client "
            f"speaks {PROTOCOL_VERSION} (controlroom {__version__}): upgrade the older side",
        )


def apply_update(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Apply an update's partial state to a snapshot state, in place; returns it."""
    for key, value in delta.items():
        if key == "games" and isinstance(value, dict):
            games = state.setdefault("games", {})
            for name, game in value.items():
                if game is None:
                    games.pop(name, None)
                else:
                    games[name] = game
        else:
            state[key] = value
    return state
