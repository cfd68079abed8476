"""The load guard: budgets a scale-up may not cross, and the running check that pauses
the newest game when temperature or memory goes past a limit.

The log's host rebooted under 8 games x 256 envs (35+ GB, 365 processes) and held under
2 x 32: the budgets are how a user writes that finding down once, so that no later
click, profile or ramp step repeats the heavy load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controlroom.config import GuardConfig

# Games in these states hold (or are about to hold) a trainer and its envs.
ACTIVE_STATES = frozenset({"starting", "running", "backoff", "hung", "crashed"})
# Hysteresis: back under the limit by this much before a paused game resumes, so one
# game does not flap between paused and running at the edge.
TEMP_MARGIN_C = 5.0
FRACTION_MARGIN = 0.05


@dataclass(frozen=True)
class Load:
    """What the host carries now."""

    envs: int = 0
    trainers: int = 0
    gpu_memory_fraction: float = 0.0
    gpu_temp_c: float | None = None
    ram_fraction: float | None = None


@dataclass(frozen=True)
class Change:
    """What an action adds (negative = frees)."""

    envs: int
    trainers: int
    gpu_memory_fraction: float = 0.0

    @property
    def grows(self) -> bool:
        """Only growth is ever refused; shrinking always helps."""
        return self.envs > 0 or self.trainers > 0 or self.gpu_memory_fraction > 0


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def verdict(g: GuardConfig, load: Load, change: Change) -> str | None:
    """None when the change fits every budget, else the first limit it crosses."""
    if not change.grows:
        return None
    envs, trainers = load.envs + change.envs, load.trainers + change.trainers
    mem = load.gpu_memory_fraction + change.gpu_memory_fraction
    if change.trainers > 0 and trainers > g.max_trainers:
        return (
            f"refused: trainer processes would be {trainers} > max_trainers "
            f"{g.max_trainers} ({trainers - g.max_trainers} over)"
        )
    if change.envs > 0 and envs > g.max_total_envs:
        return (
            f"refused: total envs would be {envs} > max_total_envs {g.max_total_envs} "
            f"({envs - g.max_total_envs} over)"
        )
    if mem > g.max_gpu_memory_fraction and change.gpu_memory_fraction > 0:
        return (
            f"refused: GPU memory would be {_pct(mem)} > max_gpu_memory_fraction "
            f"{_pct(g.max_gpu_memory_fraction)}"
        )
    return _running_limit(g, load, "refused: ")


def _running_limit(g: GuardConfig, load: Load, prefix: str) -> str | None:
    """Temperature or RAM already at a limit: nothing may grow, and a game may pause."""
    if load.gpu_temp_c is not None and load.gpu_temp_c >= g.max_gpu_temp_c:
        return (
            f"{prefix}GPU temperature {load.gpu_temp_c:.0f}C >= max_gpu_temp_c {g.max_gpu_temp_c:g}"
        )
    if load.ram_fraction is not None and load.ram_fraction >= g.max_host_ram_fraction:
        return (
            f"{prefix}host RAM {_pct(load.ram_fraction)} >= max_host_ram_fraction "
            f"{_pct(g.max_host_ram_fraction)}"
        )
    return None


def breach(g: GuardConfig, load: Load) -> str | None:
    """Why the host is over a limit right now (pauses a game), or None."""
    if load.gpu_memory_fraction > g.max_gpu_memory_fraction:
        return (
            f"GPU memory {_pct(load.gpu_memory_fraction)} > max_gpu_memory_fraction "
            f"{_pct(g.max_gpu_memory_fraction)}"
        )
    return _running_limit(g, load, "")


def clear(g: GuardConfig, load: Load) -> bool:
    """Under every running limit by the hysteresis margin."""
    temp_ok = load.gpu_temp_c is None or load.gpu_temp_c <= g.max_gpu_temp_c - TEMP_MARGIN_C
    ram_ok = load.ram_fraction is None or (
        load.ram_fraction <= g.max_host_ram_fraction - FRACTION_MARGIN
    )
    mem_ok = load.gpu_memory_fraction <= g.max_gpu_memory_fraction - FRACTION_MARGIN
    return temp_ok and ram_ok and mem_ok


@dataclass
class Watch:
    """The running check: pause the newest-added game past a limit, resume when back
    under; `paused` is a stack (the last paused resumes first). Its timing comes from
    [guard]: action_interval_s between actions, resume_hold_s under the limits before
    a resume."""

    paused: list[str] = field(default_factory=list)
    last_action_at: float = 0.0
    clear_since: float | None = None

    def step(
        self, g: GuardConfig, load: Load, running: dict[str, float], now: float
    ) -> tuple[str, str, str] | None:
        """One decision: ("pause" | "resume", game, reason) or None. `running` maps each
        active game to the time it was added."""
        reason = breach(g, load)
        self.clear_since = None if not clear(g, load) else (self.clear_since or now)
        # After a pause or resume, let memory and temperature move before the next one.
        if now - self.last_action_at < g.action_interval_s:
            return None
        if reason:
            return self._pause(running, reason, now)
        if (
            self.paused
            and self.clear_since is not None
            and (now - self.clear_since >= g.resume_hold_s)
        ):
            # The resumed game adds load: the next resume waits a whole hold again.
            self.last_action_at = self.clear_since = now
            return ("resume", self.paused.pop(), "back under the guard's limits")
        return None

    def _pause(
        self, running: dict[str, float], reason: str, now: float
    ) -> tuple[str, str, str] | None:
        candidates = {n: t for n, t in running.items() if n not in self.paused}
        if not candidates:
            return None
        newest = max(candidates, key=lambda n: (candidates[n], n))
        self.paused.append(newest)
        self.last_action_at = now
        return ("pause", newest, reason)

    def forget(self, game: str) -> None:
        """The user took over this game (started, removed or migrated it)."""
        if game in self.paused:
            self.paused.remove(game)

    def to_dict(self) -> dict[str, Any]:
        """For kv persistence: paused games stay paused across agent restarts."""
        return {"paused": list(self.paused), "last_action_at": self.last_action_at}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Watch:
        """Back from kv."""
        raw = raw or {}
        return cls(
            paused=list(raw.get("paused", [])), last_action_at=float(raw.get("last_action_at", 0.0))
        )


def load_from(
    games: dict[str, dict[str, Any]], telemetry: dict[str, Any], exclude: str | None = None
) -> Load:
    """The host's load from protocol GameStates and telemetry, optionally without one
    game (the one about to change)."""
    active = [s for n, s in games.items() if n != exclude and _is_active(s)]
    gpus = telemetry.get("gpus") or []
    total = sum(int(gp.get("memory_total") or 0) for gp in gpus)
    used = sum(int(gp.get("memory_used") or 0) for gp in gpus)
    temps = [float(gp["temperature_c"]) for gp in gpus if gp.get("temperature_c") is not None]
    system = telemetry.get("system") or {}
    ram_total = float(system.get("ram_total") or 0)
    return Load(
        envs=sum(int((s.get("settings") or {}).get("num_envs") or 0) for s in active),
        trainers=len(active),
        gpu_memory_fraction=used / total if total else 0.0,
        gpu_temp_c=max(temps) if temps else None,
        ram_fraction=float(system.get("ram_used") or 0) / ram_total if ram_total else None,
    )


def _is_active(state: dict[str, Any]) -> bool:
    return bool(state.get("wanted")) and state.get("state") in ACTIVE_STATES


def gpu_bytes_per_env(games: dict[str, dict[str, Any]]) -> float:
    """Measured GPU memory per env over the games that report it (0 when none does)."""
    pairs = [
        (int(s["gpu_memory_used"]), int((s.get("settings") or {}).get("num_envs") or 0))
        for s in games.values()
        if _is_active(s) and s.get("gpu_memory_used")
    ]
    envs = sum(e for _, e in pairs)
    return sum(m for m, _ in pairs) / envs if envs else 0.0


def change_for(
    games: dict[str, dict[str, Any]], telemetry: dict[str, Any], game: str, settings: dict[str, Any]
) -> tuple[Load, Change]:
    """The load now, and what running `game` with `settings` would add to it (a game
    already active only adds the difference)."""
    load = load_from(games, telemetry)
    old = games.get(game)
    old_envs = (
        int((old.get("settings") or {}).get("num_envs") or 0) if old and _is_active(old) else 0
    )
    was_active = 1 if old and _is_active(old) else 0
    new_envs = int(settings.get("num_envs") or 0)
    total = sum(int(gp.get("memory_total") or 0) for gp in telemetry.get("gpus") or [])
    mem = gpu_bytes_per_env(games) * (new_envs - old_envs) / total if total else 0.0
    return load, Change(envs=new_envs - old_envs, trainers=1 - was_active, gpu_memory_fraction=mem)
