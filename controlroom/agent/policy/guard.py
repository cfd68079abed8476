"""The load guard: budgets a scale-up may not cross, and the running check that pauses
the newest game when temperature or memory goes past a limit.

Memory and temperature budgets hold per GPU: a change is checked on the GPUs it lands
on (placement.py chooses them), and a GPU over a limit pauses a game placed on it, not
one on a healthy neighbour. Envs, trainers and RAM are the host's.

The log's host rebooted under 8 games x 256 envs (35+ GB, 365 processes) and held under
2 x 32: the budgets are how a user writes that finding down once, so that no later
click, profile or ramp step repeats the heavy load.

A part of a job over several hosts is paused like any game, on its own host's figures:
the guard protects this host, and a host past a limit may not wait for the others.
Pausing one part stops the whole job (the other nodes' ranks lose it and wait at the
rendezvous until it resumes; node 0's checkpoint is where the job goes on from), and
the pause's event says so (`pause_text`). Its resume restarts this part with its own
unchanged settings, so the job forms again as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controlroom.agent.readings.reading import HostReading
from controlroom.agent.supervision import job_parts
from controlroom.agent.supervision.placement import ACTIVE_STATES, bytes_per_env
from controlroom.config import GuardConfig, Settings
from controlroom.protocol import GameState, Gpu

__all__ = [
    "ACTIVE_STATES",
    "Change",
    "GpuLoad",
    "Load",
    "Watch",
    "breach",
    "breaches",
    "pause_text",
    "verdict",
]
# Hysteresis: back under the limit by this much before a paused game resumes, so one
# game does not flap between paused and running at the edge.
TEMP_MARGIN_C = 5.0
FRACTION_MARGIN = 0.05


@dataclass(frozen=True)
class GpuLoad:
    """One GPU: its memory share in use and its temperature (index -1: a GPU the figures
    do not name, when only the host's worst figures are known)."""

    index: int
    memory_fraction: float = 0.0
    temp_c: float | None = None

    @property
    def label(self) -> str:
        """ "GPU 3 " or "GPU ", to begin a message."""
        return f"GPU {self.index} " if self.index >= 0 else "GPU "


@dataclass(frozen=True)
class Load:
    """What the host carries now: the fullest GPU's memory share and the hottest GPU,
    and each GPU (`gpus`) when telemetry names them."""

    envs: int = 0
    trainers: int = 0
    gpu_memory_fraction: float = 0.0
    gpu_temp_c: float | None = None
    ram_fraction: float | None = None
    gpus: tuple[GpuLoad, ...] = ()

    def devices(self, on: Sequence[int] = ()) -> tuple[GpuLoad, ...]:
        """The GPUs in `on` (every GPU when empty); without per-GPU figures, one GPU
        standing for the worst of them."""
        every = self.gpus or (GpuLoad(-1, self.gpu_memory_fraction, self.gpu_temp_c),)
        chosen = tuple(d for d in every if d.index in on) if on and self.gpus else ()
        return chosen or every


@dataclass(frozen=True)
class Change:
    """What an action adds (negative = frees): envs and trainers to the host, and
    `gpu_memory_fraction` to each GPU in `gpus` (the placement; empty = not known, so
    checked against every GPU)."""

    envs: int
    trainers: int
    gpu_memory_fraction: float = 0.0
    gpus: tuple[int, ...] = ()
    moves: bool = False  # onto GPUs the game is not on now: growth there

    @property
    def grows(self) -> bool:
        """Only growth is ever refused; shrinking always helps."""
        return self.envs > 0 or self.trainers > 0 or self.gpu_memory_fraction > 0 or self.moves


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def verdict(g: GuardConfig, load: Load, change: Change) -> str | None:
    """None when the change fits every budget, else the first limit it crosses."""
    if not change.grows:
        return None
    envs, trainers = load.envs + change.envs, load.trainers + change.trainers
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
    for dev in load.devices(change.gpus) if change.gpu_memory_fraction > 0 else ():
        mem = dev.memory_fraction + change.gpu_memory_fraction
        if mem > g.max_gpu_memory_fraction:
            return (
                f"refused: {dev.label}memory would be {_pct(mem)} > max_gpu_memory_fraction "
                f"{_pct(g.max_gpu_memory_fraction)}"
            )
    return _running_limit(g, load, "refused: ", change.gpus)


def _running_limit(g: GuardConfig, load: Load, prefix: str, on: Sequence[int] = ()) -> str | None:
    """Temperature (of the GPUs `on`, default all) or RAM already at a limit: nothing
    may grow there, and a game may pause."""
    hot = next((d for d in load.devices(on) if _hot(g, d)), None)
    if hot is not None:
        return prefix + _temp_text(g, hot)
    if _ram_over(g, load):
        return prefix + _ram_text(g, load)
    return None


def _hot(g: GuardConfig, d: GpuLoad) -> bool:
    return d.temp_c is not None and d.temp_c >= g.max_gpu_temp_c


def _temp_text(g: GuardConfig, d: GpuLoad) -> str:
    return f"{d.label}temperature {d.temp_c:.0f}C >= max_gpu_temp_c {g.max_gpu_temp_c:g}"


def _memory_text(g: GuardConfig, d: GpuLoad) -> str:
    return (
        f"{d.label}memory {_pct(d.memory_fraction)} > max_gpu_memory_fraction "
        f"{_pct(g.max_gpu_memory_fraction)}"
    )


def _ram_over(g: GuardConfig, load: Load) -> bool:
    return load.ram_fraction is not None and load.ram_fraction >= g.max_host_ram_fraction


def _ram_text(g: GuardConfig, load: Load) -> str:
    return (
        f"host RAM {_pct(load.ram_fraction or 0.0)} >= max_host_ram_fraction "
        f"{_pct(g.max_host_ram_fraction)}"
    )


def breaches(g: GuardConfig, load: Load) -> list[tuple[int | None, str]]:
    """Every limit the host is over right now, each with the GPU it is about (None:
    the host's RAM, or a GPU the figures do not name): a game on that GPU may pause."""
    out: list[tuple[int | None, str]] = []
    for d in load.devices():
        gpu = d.index if d.index >= 0 else None
        if d.memory_fraction > g.max_gpu_memory_fraction:
            out.append((gpu, _memory_text(g, d)))
        if _hot(g, d):
            out.append((gpu, _temp_text(g, d)))
    if _ram_over(g, load):
        out.append((None, _ram_text(g, load)))
    return out


def breach(g: GuardConfig, load: Load) -> str | None:
    """Why the host is over a limit right now (the first of them), or None."""
    found = breaches(g, load)
    return found[0][1] if found else None


def clear(g: GuardConfig, load: Load, on: Sequence[int] = ()) -> bool:
    """Under every running limit by the hysteresis margin (the GPUs `on`, default all,
    and the host's RAM)."""
    ram_ok = load.ram_fraction is None or (
        load.ram_fraction <= g.max_host_ram_fraction - FRACTION_MARGIN
    )
    return ram_ok and all(
        (d.temp_c is None or d.temp_c <= g.max_gpu_temp_c - TEMP_MARGIN_C)
        and d.memory_fraction <= g.max_gpu_memory_fraction - FRACTION_MARGIN
        for d in load.devices(on)
    )


@dataclass
class Watch:
    """The running check: pause the newest-added game past a limit, resume when back
    under; `paused` is a stack (the last paused resumes first). Its timing comes from
    [guard]: action_interval_s between actions, resume_hold_s under the limits before
    a resume."""

    paused: list[str] = field(default_factory=list)  # kept across agent restarts (saved.py)
    last_action_at: float = 0.0
    clear_since: float | None = None  # not: the hold is seen again after a restart

    def step(
        self,
        g: GuardConfig,
        load: Load,
        running: dict[str, float],
        now: float,
        placed: dict[str, list[int]] | None = None,
    ) -> tuple[str, str, str] | None:
        """One decision: ("pause" | "resume", game, reason) or None. `running` maps each
        active game to the time it was added; `placed` each game to its GPUs: a GPU over
        a limit pauses only a game on it, and a paused game resumes once its own GPUs
        (and the host) are clear."""
        placed = placed or {}
        found = breaches(g, load)
        on = placed.get(self.paused[-1], []) if self.paused else []
        self.clear_since = None if not clear(g, load, on) else (self.clear_since or now)
        # After a pause or resume, let memory and temperature move before the next one.
        if now - self.last_action_at < g.action_interval_s:
            return None
        for gpu, reason in found:
            act = self._pause(_on_gpu(running, placed, gpu), reason, now)
            if act is not None:
                return act
        # Past here, no GPU over a limit holds a game of ours: a paused one may resume.
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


def pause_text(st: GameState, reason: str) -> str:
    """The guard_paused event's message: for a part of a job over several hosts, that
    the whole job stops until it resumes."""
    text = f"paused {st.game}: {reason}"
    span = job_parts.part_of_job(st)
    if span is None:
        return text
    return (
        f"{text}; {job_parts.part_text(st.game, span)}: the whole job stops, its other "
        f"nodes waiting at the rendezvous until this part resumes"
    )


def _on_gpu(
    running: dict[str, float], placed: dict[str, list[int]], gpu: int | None
) -> dict[str, float]:
    """The running games that can relieve `gpu`: those placed on it, and those whose
    GPUs are not known (None: every game; the host's RAM is everyone's)."""
    if gpu is None:
        return running
    return {n: t for n, t in running.items() if not placed.get(n) or gpu in placed[n]}


def load_from(
    games: dict[str, GameState], telemetry: HostReading, exclude: str | None = None
) -> Load:
    """The host's load from protocol GameStates and telemetry, optionally without one
    game (the one about to change)."""
    active = [s for n, s in games.items() if n != exclude and _is_active(s)]
    gpus = tuple(_gpu_load(gp) for gp in telemetry.gpus)
    temps = [d.temp_c for d in gpus if d.temp_c is not None]
    system = telemetry.system
    ram_total = float(system.ram_total or 0)
    return Load(
        envs=sum(int(s.settings.get("num_envs") or 0) for s in active),
        trainers=len(active),
        gpu_memory_fraction=max((d.memory_fraction for d in gpus), default=0.0),
        gpu_temp_c=max(temps) if temps else None,
        ram_fraction=float(system.ram_used or 0) / ram_total if ram_total else None,
        gpus=gpus,
    )


def _gpu_load(gp: Gpu) -> GpuLoad:
    total = gp.memory_total
    return GpuLoad(
        index=gp.index,
        memory_fraction=gp.memory_used / total if total else 0.0,
        temp_c=float(gp.temperature_c),
    )


def _is_active(state: GameState) -> bool:
    return state.wanted and state.state in ACTIVE_STATES


def gpu_bytes_per_env(games: dict[str, GameState]) -> float:
    """Measured GPU memory per env on one GPU (0 when no game reports it)."""
    return bytes_per_env(games)


def gpu_share(
    games: dict[str, GameState], telemetry: HostReading, envs: int, gpus: Sequence[int]
) -> float:
    """The share of one GPU (among `gpus`, default any) that `envs` more envs take at
    the measured memory per env: what a change adds to each GPU it lands on."""
    devices = [gp for gp in telemetry.gpus if not gpus or gp.index in gpus]
    total = max((gp.memory_total for gp in devices), default=0)
    return gpu_bytes_per_env(games) * envs / total if total else 0.0


def change_for(
    games: dict[str, GameState],
    telemetry: HostReading,
    game: str,
    settings: Settings,
    gpus: Sequence[int] = (),
) -> tuple[Load, Change]:
    """The load now, and what running `game` with `settings` on `gpus` would add to it
    (a game already active on the same GPUs only adds the difference; memory is a
    share of one GPU's)."""
    load = load_from(games, telemetry)
    old = games.get(game)
    old_envs = int(old.settings.get("num_envs") or 0) if old and _is_active(old) else 0
    was_active = 1 if old and _is_active(old) else 0
    new_envs = int(settings.get("num_envs") or 0)
    moved = bool(gpus) and old is not None and sorted(old.gpus) != sorted(gpus)
    held = 0 if moved else old_envs  # moving to other GPUs frees nothing on them
    mem = gpu_share(games, telemetry, new_envs - held, gpus)
    change = Change(new_envs - old_envs, 1 - was_active, mem, tuple(gpus), moved and bool(old_envs))
    return load, change
