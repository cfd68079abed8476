"""The plan from the agent's live state: progress and rates from the games, the queue,
the price from the config, downtime from the boot history."""

from __future__ import annotations

from controlroom import protocol
from controlroom.agent.policy import plan_math as arithmetic
from controlroom.agent.policy.compare import compare_profiles
from controlroom.agent.policy.plan_math import GameProgress
from controlroom.agent.policy.queue import is_active
from controlroom.agent.policy.seam import Engine
from controlroom.protocol import GameState


def progress(name: str, state: GameState | None, target: int) -> GameProgress:
    """A game's progress from its GameState (or a fresh one for a game never run)."""
    if state is None:
        return GameProgress(name, 0, target, None)
    m = state.metrics or {}
    checkpoint = int(state.checkpoint.episodes) if state.checkpoint else 0
    episodes = max(int(m.get("episodes") or 0), checkpoint)
    eph = m.get("episodes_per_hour")
    target = int(state.target_episodes or target)
    return GameProgress(name, episodes, target, float(eph) if eph else None)


def _target(engine: Engine, name: str) -> int:
    gc = engine.agent.config.games.get(name)
    return (
        gc.target_episodes
        if gc
        else int(engine.agent.config.game_settings(name)["target_episodes"])
    )


def plan(engine: Engine, now: float) -> protocol.Plan:
    """The whole plan: the host's (per game, parallel, with the queue) and the profile
    comparison table."""
    cfg, games = engine.agent.config, engine.agent.games()
    boots = engine.agent.store.boots()
    active = [progress(n, s, _target(engine, n)) for n, s in games.items() if is_active(s)]
    queued = [progress(n, games.get(n), _target(engine, n)) for n in engine.queue.waiting]
    down = arithmetic.downtime_share(boots)
    by_load = arithmetic.downtime_by_load(boots)
    host = arithmetic.host_plan(active, queued, cfg.agent.price_per_hour, down)
    work = _every_game(engine, games, active + queued)
    table = compare_profiles(
        cfg.profiles,
        work,
        engine.book,
        price_per_hour=cfg.agent.price_per_hour,
        downtime_by_load=by_load,
    )
    return protocol.Plan(
        computed_at=now,
        host=host,
        profiles=table,
        downtime_share=down,
        downtime_by_load={str(k): v for k, v in by_load.items()},
        boots=len(boots),
    )


def _every_game(
    engine: Engine, games: dict[str, GameState], known: list[GameProgress]
) -> list[GameProgress]:
    """The work a profile comparison covers: the host's games and queue, plus every
    game some profile would run."""
    names = [p.game for p in known]
    extra = [g for p in engine.agent.config.profiles.values() for g in p.games]
    for name in extra:
        if name not in names:
            names.append(name)
            known = [*known, progress(name, games.get(name), _target(engine, name))]
    return known
