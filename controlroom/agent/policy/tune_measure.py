"""A tune rung's figures from the live agent (agent/policy/tune.py): each running
trainer's newest metrics line into its window, the candidate's memory, the host's
memory against the guard's budgets, and the plan's figures for a game."""

from __future__ import annotations

import time

from controlroom import protocol
from controlroom.agent.policy import guard, tune_search
from controlroom.agent.policy.seam import Engine, TuneRun
from controlroom.agent.policy.tune_search import Sample, Window
from controlroom.agent.supervision import process
from controlroom.protocol import GameState, TuneRung


def fill(engine: Engine, rung: TuneRung, run: TuneRun, st: GameState) -> None:
    """A measured rung's figures: steps/s (the host's sum and the game's own), episodes
    an hour, memory, CPU and temperature now."""
    cand = run.windows[st.game]
    rung.game_steps_per_s = cand.steps_per_s()
    rung.steps_per_s = sum(w.steps_per_s() or 0.0 for w in run.windows.values())
    rung.eps_per_h = cand.episodes_per_h()
    rung.rss = rss(st)
    rung.ran_threads = st.threads.label if st.threads is not None else None
    if st.gpu_memory_used:
        rung.gpu_mem_per_env = st.gpu_memory_used / rung.num_envs
    tel = engine.agent.telemetry()
    rung.cpu = tel.system.cpu_percent
    rung.temp_c = guard.load_from({}, tel).gpu_temp_c


def sample(run: TuneRun, games: dict[str, GameState], game: str) -> None:
    """Each running trainer's newest line into its window; the other games' windows
    open when the candidate's warm-up is over, so all are measured over one span."""
    base = run.windows[game].base
    for name, st in games.items():
        m = st.metrics or {}
        when, step = m.get("time"), m.get("global_step")
        if st.state != "running" or not isinstance(when, int | float) or step is None:
            continue
        if name not in run.windows:
            if base is None:
                continue
            run.windows[name] = Window(since=base.time - 1e-6)
        run.windows[name].add(Sample(float(when), float(step), float(m.get("episodes") or 0)))


def rss(st: GameState) -> int | None:
    """The candidate's host RAM: what its trainer reports, else its process's RSS."""
    reported = (st.metrics or {}).get("rss")
    if isinstance(reported, int | float) and reported > 0:
        return int(reported)
    return process.rss_bytes(st.pid) if st.pid else None


def memory(engine: Engine) -> tune_search.Memory:
    """The host's and the fullest GPU's memory now, with the guard's budgets."""
    tel, g = engine.agent.telemetry(), engine.agent.config.guard
    fullest = max(tel.gpus, key=lambda x: x.memory_used / max(1, x.memory_total), default=None)
    return tune_search.Memory(
        ram_used=tel.system.ram_used,
        ram_total=tel.system.ram_total,
        ram_budget=g.max_host_ram_fraction,
        gpu_used=fullest.memory_used if fullest else None,
        gpu_total=fullest.memory_total if fullest else None,
        gpu_budget=g.max_gpu_memory_fraction,
    )


def figures(engine: Engine, game: str, measured: float | None = None) -> protocol.TuneFigures:
    """The plan's figures for `game` now: episodes an hour, days and cost to target. A
    trainer just started has no rate yet: `measured` (episodes an hour the tune measured
    at the game's own shape) stands in for it."""
    plan = engine.plan(time.time(), fresh=True)
    row = next((g for g in plan.host.games if g.game == game), None)
    if row is None:
        return protocol.TuneFigures()
    eph, hours = row.episodes_per_hour, row.hours_to_target
    if hours is None and measured:
        eph, hours = measured, max(0, row.target - row.episodes) / measured
    if hours is None:
        return protocol.TuneFigures(episodes_per_hour=eph)
    price = engine.agent.config.agent.price_per_hour
    return protocol.TuneFigures(episodes_per_hour=eph, days=hours / 24.0, cost=hours * price)
