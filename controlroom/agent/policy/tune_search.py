"""The tune's search, pure: the ladder of shapes, a rung's steady-state measure, the stop
rules and the choice (agent/policy/tune.py applies them to a live agent).

The ladder doubles num_envs from the game's current shape and scales minibatch_size with
it, so the number of minibatches per update (num_envs * num_steps / minibatch_size), the
epochs and the learning rate stay the same: PPO per sample is unchanged, a larger batch
changes how much is learned per update. It climbs on the host's summed steps/s (every
running game's), so a rung that speeds this game but slows the others more is not chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from controlroom.config import Settings
from controlroom.protocol import TuneFigures, TuneRung, TuneState

OK, UNSTABLE, OVER_BUDGET, DIMINISHING, HOT = "ok", "unstable", "over_budget", "diminishing", "hot"
PENDING, RUNNING = "pending", "running"


def ladder(
    num_envs: int,
    minibatch_size: int,
    *,
    max_envs: int,
    ceiling: int | None,
    max_rungs: int,
    threads: int | None = None,
) -> list[TuneRung]:
    """The shapes to measure, the current one first: num_envs doubling while it stays
    within `max_envs` (what the guard's env budget leaves this game) and under `ceiling`
    (a num_envs this game was unstable at), `max_rungs` in all."""
    rungs = [TuneRung(num_envs=num_envs, minibatch_size=minibatch_size, threads=threads)]
    envs = num_envs
    while len(rungs) < max_rungs:
        envs *= 2
        if envs > max_envs or (ceiling is not None and envs >= ceiling):
            break
        scaled = minibatch_size * envs // num_envs
        rungs.append(TuneRung(num_envs=envs, minibatch_size=scaled, threads=threads))
    return rungs


SWITCH_SHARE = 0.1  # of a tune's minutes, left for stopping and starting trainers


def measures(rungs: int) -> int:
    """How many measures a ladder of `rungs` takes: each rung, and the game's own shape
    again after a climb (a ladder of one has nothing to climb, so nothing to confirm)."""
    return rungs + 1 if rungs > 1 else rungs


def rung_seconds(minutes: float, rungs: int) -> float:
    """Each rung's share of the tune's minutes, less the share its trainers' stops and
    starts take."""
    return minutes * 60.0 * (1.0 - SWITCH_SHARE) / max(1, rungs)


def rung_settings(rung: TuneRung) -> Settings:
    """The settings a rung changes."""
    out: Settings = {"num_envs": rung.num_envs, "minibatch_size": rung.minibatch_size}
    if rung.threads is not None:
        out["torch_threads"] = rung.threads
    return out


@dataclass(frozen=True)
class Sample:
    """One metrics line of a trainer: its own clock, steps and episodes."""

    time: float
    global_step: float
    episodes: float


@dataclass
class Window:
    """A trainer's measure over a rung. Lines at or before `since` (the agent's clock when
    the rung's trainer started) are the previous trainer's. A line whose global_step did
    not move (the start line, a checkpoint's) is not an update. The first `warmup` updates
    are warm-up: the rate runs from the end of the last of them to the newest update, so
    it needs `warmup` + 1 updates (with no warm-up, from the first line seen)."""

    since: float
    warmup: int = 0
    updates: int = 0
    prev: Sample | None = None
    base: Sample | None = None
    last: Sample | None = None

    def add(self, s: Sample) -> None:
        """A line as the agent last saw it (the same line twice counts once)."""
        if s.time <= self.since or (self.prev is not None and s.time <= self.prev.time):
            return
        moved = self.prev is not None and s.global_step > self.prev.global_step
        if self.prev is None and self.warmup == 0:
            self.base = s
        self.prev = s
        if not moved:
            return
        self.updates += 1
        if self.updates <= self.warmup:
            self.base = s
        else:
            self.last = s

    def steps_per_s(self) -> float | None:
        """Steps per second between the first measured line and the newest, or None."""
        if self.base is None or self.last is None or self.last.time <= self.base.time:
            return None
        return (self.last.global_step - self.base.global_step) / (self.last.time - self.base.time)

    def episodes_per_h(self) -> float | None:
        """Episodes an hour over the same span, or None."""
        if self.base is None or self.last is None or self.last.time <= self.base.time:
            return None
        return (
            (self.last.episodes - self.base.episodes) * 3600.0 / (self.last.time - self.base.time)
        )


def judge(rung: TuneRung, best: TuneRung | None, *, min_gain: float, max_temp_c: float) -> str:
    """A measured rung's verdict: hot at the temperature limit, diminishing under
    `min_gain` over the best rung below it, else ok."""
    if rung.temp_c is not None and rung.temp_c >= max_temp_c:
        return HOT
    below = best.steps_per_s if best is not None else None
    if below and rung.steps_per_s is not None and rung.steps_per_s < below * (1.0 + min_gain):
        return DIMINISHING
    return OK


@dataclass(frozen=True)
class Memory:
    """The host's and the fullest GPU's memory now, and the budgets on them."""

    ram_used: int | None
    ram_total: int | None
    ram_budget: float
    gpu_used: int | None = None
    gpu_total: int | None = None
    gpu_budget: float = 1.0


def over_budget(rung: TuneRung, nxt: TuneRung, mem: Memory) -> str | None:
    """Why running `nxt` in place of `rung` would cross a memory budget, estimated from
    `rung`'s memory per env (GPU memory where it has any, host RSS otherwise), or None."""
    grow = nxt.num_envs - rung.num_envs
    if rung.gpu_mem_per_env and mem.gpu_used is not None and mem.gpu_total:
        after = (mem.gpu_used + rung.gpu_mem_per_env * grow) / mem.gpu_total
        if after > mem.gpu_budget:
            return (
                f"GPU memory would be {after:.0%} > max_gpu_memory_fraction "
                f"{mem.gpu_budget:.0%} at {nxt.num_envs} envs"
            )
        return None
    if rung.rss and mem.ram_used is not None and mem.ram_total:
        per_env = rung.rss / rung.num_envs
        after = (mem.ram_used + per_env * grow) / mem.ram_total
        if after > mem.ram_budget:
            return (
                f"host RAM would be {after:.0%} > max_host_ram_fraction "
                f"{mem.ram_budget:.0%} at {nxt.num_envs} envs"
            )
    return None


def choose(rungs: list[TuneRung]) -> TuneRung | None:
    """The fastest rung on the host's summed steps/s among those judged ok."""
    fine = [r for r in rungs if r.verdict == OK and r.steps_per_s is not None]
    return max(fine, key=lambda r: r.steps_per_s or 0.0) if fine else None


def confirmed(
    rungs: list[TuneRung], recheck: TuneRung | None, *, min_gain: float
) -> tuple[TuneRung | None, str | None]:
    """The choice once the game's own shape was measured again after the climb, and why
    the climb's best was refused (None: it was not). The rungs ran one after another: a
    host that got faster meanwhile (another tenant gone, clocks up) makes every later
    rung look better. The best rung stands only if it gains `min_gain` over the higher
    of the own shape's two measures; else the own shape is the choice."""
    best = choose(rungs)
    own = rungs[0]
    if best is None or best is own or recheck is None or recheck.steps_per_s is None:
        return best, None
    higher = max(own.steps_per_s or 0.0, recheck.steps_per_s)
    if (best.steps_per_s or 0.0) >= higher * (1.0 + min_gain):
        return best, None
    why = (
        f"{own.num_envs} envs measured {own.steps_per_s or 0:.0f} steps/s before the climb "
        f"and {recheck.steps_per_s:.0f} after it: {best.num_envs} envs' "
        f"{best.steps_per_s or 0:.0f} is not {min_gain:.0%} over the higher (the host's "
        "speed drifted)"
    )
    return (own if own.verdict == OK else None), why


def gain_base(rungs: list[TuneRung], recheck: TuneRung | None, chosen: TuneRung) -> TuneRung:
    """The measure of the own shape a chosen rung's gain is taken against: the faster of
    its two (before and after the climb), the same as `confirmed` judged by; the own
    shape's first when it is the choice itself."""
    own = rungs[0]
    if chosen is own or recheck is None or recheck.steps_per_s is None:
        return own
    return recheck if recheck.steps_per_s > (own.steps_per_s or 0.0) else own


def best_below(rungs: list[TuneRung], index: int) -> TuneRung | None:
    """The best ok rung before `index` (what the next must beat)."""
    return choose(rungs[:index])


def figures_after(before: TuneFigures, base: TuneRung, chosen: TuneRung) -> TuneFigures:
    """The plan's figures with the chosen shape: the same episodes per step, so the
    episodes an hour and the days and cost scale with the game's own steps/s."""
    if not base.game_steps_per_s or not chosen.game_steps_per_s:
        return TuneFigures()
    ratio = chosen.game_steps_per_s / base.game_steps_per_s
    eph = before.episodes_per_hour * ratio if before.episodes_per_hour else None
    days = before.days / ratio if before.days is not None else None
    cost = before.cost / ratio if before.cost is not None else None
    return TuneFigures(episodes_per_hour=eph, days=days, cost=cost)


class TuneBook(msgspec.Struct, kw_only=True):
    """What the tune keeps in the agent's kv store (with the policy state): each game's
    running or last tune, the games waiting their turn, the num_envs each game was
    unstable at, and the boot a running tune started on (a reboot under a rung is read
    as that rung's verdict)."""

    tunes: dict[str, TuneState] = {}
    waiting: list[str] = []
    ceilings: dict[str, int] = {}
    boot_id: str | None = None

    def running(self) -> TuneState | None:
        """The tune measuring now (one at a time on a host), or None."""
        for t in self.tunes.values():
            if t.status == RUNNING and not t.waiting:
                return t
        return None
