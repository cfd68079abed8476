"""The plan: time to target, days for every game, cost and effective cost.

Pure arithmetic over measured figures, so the log's hand-made cost table can be checked
line by line: cost = hours x price; effective = cost / (1 - downtime share), because a
host that is down a share d of the wall clock needs 1/(1-d) of the hours to do the work
(the log's heavy row: 4 days, $192, 17 % down -> $231).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from controlroom import protocol
from controlroom.protocol import Costing

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class GameProgress:
    """Where one game stands and how fast it goes."""

    game: str
    episodes: int
    target: int
    episodes_per_hour: float | None
    estimated: bool = False  # the rate is borrowed from other games, not measured

    @property
    def remaining(self) -> int:
        """Episodes still to go."""
        return max(0, self.target - self.episodes)


def hours_to_target(p: GameProgress) -> float | None:
    """Hours until the target at the measured rate; None when no rate is known."""
    if p.remaining == 0:
        return 0.0
    if not p.episodes_per_hour or p.episodes_per_hour <= 0:
        return None
    return p.remaining / p.episodes_per_hour


def parallel_hours(hours: list[float | None]) -> float | None:
    """All games at once: the slowest one decides."""
    if any(h is None for h in hours):
        return None
    return max((h for h in hours if h is not None), default=0.0)


def queue_hours(hours: list[float | None], slots: int) -> float | None:
    """Games in order on `slots` parallel slots, each starting when a slot frees up."""
    if any(h is None for h in hours):
        return None
    free_at = [0.0] * max(1, slots)
    end = 0.0
    for h in hours:
        start = heapq.heappop(free_at)
        end = max(end, start + (h or 0.0))
        heapq.heappush(free_at, start + (h or 0.0))
    return end


def costing(hours: float, price_per_hour: float, downtime_share: float) -> Costing:
    """Days, cost and the effective figures once downtime stretches the wall clock."""
    up_share = max(1e-9, 1.0 - downtime_share)
    return Costing(
        hours=hours,
        days=hours / HOURS_PER_DAY,
        cost=hours * price_per_hour,
        downtime_share=downtime_share,
        effective_days=hours / up_share / HOURS_PER_DAY,
        effective_cost=hours * price_per_hour / up_share,
    )


def downtime_share(boots: list[protocol.Boot]) -> float:
    """Down time over wall time, from the boot history (protocol `boots` rows)."""
    up = sum(b.uptime_s for b in boots)
    down = sum(b.downtime_before_s or 0.0 for b in boots)
    return down / (up + down) if up + down > 0 else 0.0


def downtime_by_load(boots: list[protocol.Boot]) -> dict[int, float]:
    """Downtime share per number of games running: a boot's uptime and the downtime
    that followed it (the next boot's downtime_before_s) count for the load at its last
    heartbeat, so a reboot is blamed on the load that preceded it."""
    up: dict[int, float] = {}
    down: dict[int, float] = {}
    for i, boot in enumerate(boots):
        games = boot.load.games or 0
        up[games] = up.get(games, 0.0) + boot.uptime_s
        after = boots[i + 1].downtime_before_s if i + 1 < len(boots) else 0.0
        down[games] = down.get(games, 0.0) + float(after or 0.0)
    return {n: down[n] / (up[n] + down[n]) for n in up if up[n] + down[n] > 0}


def fill_rates(progress: list[GameProgress]) -> list[GameProgress]:
    """Give unmeasured games the mean measured rate, flagged as estimated."""
    rates = [p.episodes_per_hour for p in progress if p.episodes_per_hour]
    if not rates:
        return progress
    mean = sum(r for r in rates if r) / len(rates)
    return [
        p
        if p.episodes_per_hour or p.remaining == 0
        else GameProgress(p.game, p.episodes, p.target, mean, estimated=True)
        for p in progress
    ]


def host_plan(
    active: list[GameProgress],
    queued: list[GameProgress],
    price_per_hour: float,
    downtime: float,
) -> protocol.HostPlan:
    """The host's plan: per game ETA, then every game in parallel and with the queue
    (as many slots as games are active now)."""
    every = fill_rates(active + queued)
    hours = [hours_to_target(p) for p in every]
    par, que = parallel_hours(hours), queue_hours(hours, len(active))
    return protocol.HostPlan(
        games=[
            _game_row(p, h, i >= len(active))
            for i, (p, h) in enumerate(zip(every, hours, strict=True))
        ],
        price_per_hour=price_per_hour,
        downtime_share=downtime,
        parallel=_costed(par, price_per_hour, downtime),
        with_queue=_costed(que, price_per_hour, downtime),
    )


def _game_row(p: GameProgress, hours: float | None, queued: bool) -> protocol.PlanGame:
    return protocol.PlanGame(
        game=p.game,
        episodes=p.episodes,
        target=p.target,
        episodes_per_hour=p.episodes_per_hour,
        estimated=p.estimated,
        hours_to_target=hours,
        queued=queued,
    )


def _costed(hours: float | None, price: float, downtime: float) -> Costing | None:
    return None if hours is None else costing(hours, price, downtime)
