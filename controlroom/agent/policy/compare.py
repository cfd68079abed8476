"""The log's comparison table (light / medium / heavy: days, cost, downtime, effective
cost), computed from measured speeds and the boot history instead of guessed."""

from __future__ import annotations

from controlroom import protocol
from controlroom.agent.policy.figures import shape_from
from controlroom.agent.policy.plan_math import GameProgress, costing, hours_to_target, queue_hours
from controlroom.agent.policy.speeds import SpeedBook
from controlroom.config import ProfileConfig


def profile_settings(p: ProfileConfig) -> dict[str, int]:
    """The shape a profile runs every game at."""
    return shape_from(p)


def _rates(p: ProfileConfig, work: list[GameProgress], book: SpeedBook) -> list[GameProgress]:
    """Each game's rate at the profile's shape; unmeasured ones get the mean measured
    rate at that shape (flagged), or none when nothing at that shape was ever measured."""
    settings = profile_settings(p)
    measured = {
        g.game: s.episodes_per_hour
        for g in work
        if (s := book.lookup(g.game, settings)) and s.episodes_per_hour > 0
    }
    mean = sum(measured.values()) / len(measured) if measured else None
    return [
        GameProgress(
            g.game,
            g.episodes,
            g.target,
            measured.get(g.game, mean),
            estimated=g.game not in measured,
        )
        for g in work
    ]


def _ordered(p: ProfileConfig, work: list[GameProgress]) -> list[GameProgress]:
    """The profile's own games first, then the rest as they would queue."""
    mine = [g for name in p.games for g in work if g.game == name]
    return mine + [g for g in work if g.game not in p.games]


def profile_row(
    name: str,
    p: ProfileConfig,
    work: list[GameProgress],
    book: SpeedBook,
    *,
    price_per_hour: float,
    downtime_by_load: dict[int, float],
) -> protocol.ProfileRow:
    """One row of the table: every game in `work` done with this profile's slots."""
    rows = _rates(p, _ordered(p, work), book)
    hours = queue_hours([hours_to_target(g) for g in rows], len(p.games))
    mine = [g for g in rows if g.game in p.games]
    measured_mem = [
        s.gpu_memory_used
        for g in mine
        if (s := book.lookup(g.game, profile_settings(p))) and s.gpu_memory_used
    ]
    down = downtime_by_load.get(len(p.games))
    cost = costing(hours, price_per_hour, down or 0.0) if hours is not None else None
    return protocol.ProfileRow(
        profile=name,
        games=len(p.games),
        num_envs=p.num_envs,
        minibatch_size=p.minibatch_size,
        total_envs=p.num_envs * len(p.games),
        measured_games=sum(1 for g in mine if not g.estimated),
        episodes_per_hour=sum(g.episodes_per_hour or 0.0 for g in mine) or None,
        gpu_memory_used=sum(measured_mem) if measured_mem else None,
        downtime_measured=down is not None,
        hours=cost.hours if cost else None,
        days=cost.days if cost else None,
        cost=cost.cost if cost else None,
        downtime_share=cost.downtime_share if cost else down,
        effective_days=cost.effective_days if cost else None,
        effective_cost=cost.effective_cost if cost else None,
    )


def compare_profiles(
    profiles: dict[str, ProfileConfig],
    work: list[GameProgress],
    book: SpeedBook,
    *,
    price_per_hour: float,
    downtime_by_load: dict[int, float],
) -> list[protocol.ProfileRow]:
    """The whole table, one row per configured profile."""
    return [
        profile_row(
            n, p, work, book, price_per_hour=price_per_hour, downtime_by_load=downtime_by_load
        )
        for n, p in profiles.items()
    ]
