"""The plan's arithmetic against hand-computed tables, the log's cost table first."""

from __future__ import annotations

import pytest

from controlroom import protocol
from controlroom.agent.policy.compare import compare_profiles
from controlroom.agent.policy.plan_math import (
    GameProgress,
    costing,
    downtime_by_load,
    downtime_share,
    host_plan,
    hours_to_target,
    parallel_hours,
    queue_hours,
)
from controlroom.agent.policy.speeds import Speed, SpeedBook
from controlroom.config import ProfileConfig

# The log: "Assuming $2/hr": days, cost, downtime, effective cost.
LOG_TABLE = [
    ("Original (D)", 325, 15_600, 0.00, 15_600),
    ("Light (B)", 10, 480, 0.01, 485),
    ("Medium (C)", 6, 288, 0.05, 303),
    ("Heavy (A)", 4, 192, 0.17, 231),
]


@pytest.mark.parametrize(("name", "days", "cost", "down", "effective"), LOG_TABLE)
def test_the_logs_cost_table(name: str, days: int, cost: int, down: float, effective: int) -> None:
    c = costing(days * 24, 2.0, down)
    assert c.cost == pytest.approx(cost), name
    assert round(c.effective_cost) == effective, name


def test_heavy_effective_time_is_about_five_days() -> None:
    # "*With 17% downtime, effective time is 5 days and $231"
    assert costing(4 * 24, 2.0, 0.17).effective_days == pytest.approx(4.82, abs=0.01)


def boot(up: float, down_before: float | None, games: int | None = None) -> protocol.Boot:
    """A boot that was up `up` s after `down_before` s down, carrying `games` games."""
    return protocol.Boot(
        boot_id="b",
        boot_time=0.0,
        first_seen=0.0,
        last_heartbeat=up,
        uptime_s=up,
        downtime_before_s=down_before,
        load=protocol.Load(games=games),
    )


def test_downtime_share_of_the_logs_reboot_cycle() -> None:
    # "3 min downtime per 18 min cycle" -> 17 %
    boots = [boot(15 * 60, None), boot(15 * 60, 3 * 60)]
    assert downtime_share(boots[1:]) == pytest.approx(3 / 18)
    assert downtime_share([]) == 0.0


def test_downtime_is_blamed_on_the_load_before_the_reboot() -> None:
    boots = [boot(3600, None, 2), boot(900, 60, 8), boot(900, 180, 8), boot(600, 180, 2)]
    by = downtime_by_load(boots)
    # 2 games: up 3600 + 600, the 60 s after the first boot; 8 games: up 1800, down 360.
    assert by[2] == pytest.approx(60 / 4260)
    assert by[8] == pytest.approx(360 / 2160)


def test_time_to_target() -> None:
    assert hours_to_target(GameProgress("Pong", 400, 25_000, 782.0)) == pytest.approx(24600 / 782)
    assert hours_to_target(GameProgress("Pong", 30_000, 25_000, None)) == 0.0
    assert hours_to_target(GameProgress("Pong", 0, 100, None)) is None
    assert hours_to_target(GameProgress("Pong", 0, 100, 0.0)) is None


def test_parallel_and_queue_hours() -> None:
    assert parallel_hours([2.0, 8.0, 5.0]) == 8.0
    assert parallel_hours([2.0, None]) is None
    # Two slots: A(2) and B(8) start; C(5) starts at 2 ends at 7; D(1) starts at 7 -> 8.
    assert queue_hours([2.0, 8.0, 5.0, 1.0], 2) == 8.0
    assert queue_hours([2.0, 8.0, 5.0, 4.0], 2) == 11.0
    assert queue_hours([2.0, 8.0, 5.0], 1) == 15.0


def test_host_plan_by_hand_with_downtime() -> None:
    # A: 1000 left at 500/h = 2 h; B: 2000 left at 250/h = 8 h (both active);
    # C queued, unmeasured: the mean rate 375/h, 1500 left = 4 h.
    # Parallel: 8 h. Queue on 2 slots: C starts at 2 -> 6; end 8 h.
    active = [GameProgress("A", 0, 1000, 500.0), GameProgress("B", 500, 2500, 250.0)]
    queued = [GameProgress("C", 0, 1500, None)]
    plan = host_plan(active, queued, price_per_hour=2.0, downtime=0.2)
    rows = {r.game: r for r in plan.games}
    assert plan.parallel is not None and plan.with_queue is not None
    assert rows["C"].estimated and rows["C"].queued
    assert rows["C"].hours_to_target == pytest.approx(4.0)
    assert plan.parallel.hours == pytest.approx(8.0)
    assert plan.with_queue.hours == pytest.approx(8.0)
    assert plan.with_queue.cost == pytest.approx(16.0)
    assert plan.with_queue.effective_cost == pytest.approx(20.0)  # 16 / 0.8
    assert plan.with_queue.effective_days == pytest.approx(10 / 24)


def test_host_plan_one_slot_queue() -> None:
    active = [GameProgress("A", 0, 1000, 500.0)]
    queued = [GameProgress("B", 0, 3000, 500.0), GameProgress("C", 0, 500, 500.0)]
    plan = host_plan(active, queued, price_per_hour=2.0, downtime=0.0)
    assert plan.parallel is not None and plan.with_queue is not None
    assert plan.parallel.hours == pytest.approx(6.0)
    assert plan.with_queue.hours == pytest.approx(9.0)
    assert plan.with_queue.cost == pytest.approx(18.0)


def test_profile_comparison_is_measured() -> None:
    # Four games of 24,000 episodes each; light runs 2 at 32 envs, medium 4 at 64.
    light = ProfileConfig(games=["A", "B"], num_envs=32, minibatch_size=512)
    medium = ProfileConfig(games=["A", "B", "C", "D"], num_envs=64, minibatch_size=1024)
    book = SpeedBook()
    for g, eph in (("A", 1000.0), ("B", 500.0)):
        book.record(
            g,
            {"num_envs": 32, "num_steps": 128, "minibatch_size": 512},
            Speed(eph, 100.0, 2 << 30, 50.0, 0.0),
        )
    book.record(
        "A",
        {"num_envs": 64, "num_steps": 128, "minibatch_size": 1024},
        Speed(2000.0, 100.0, 4 << 30, 60.0, 0.0),
    )
    work = [GameProgress(g, 0, 24_000, None) for g in "ABCD"]
    rows = compare_profiles(
        {"light": light, "medium": medium},
        work,
        book,
        price_per_hour=2.0,
        downtime_by_load={4: 0.05},
    )
    lt, md = rows
    # Light: A 24 h, B 48 h; C, D unmeasured at 32 envs -> mean 750/h = 32 h each.
    # Slots: A(0-24) B(0-48); C 24-56; D 48-80 -> 80 h.
    assert lt.hours == pytest.approx(80.0)
    assert lt.cost == pytest.approx(160.0)
    assert lt.downtime_measured is False and lt.effective_cost == pytest.approx(160.0)
    assert lt.measured_games == 2 and lt.episodes_per_hour == pytest.approx(1500.0)
    assert lt.gpu_memory_used == 4 << 30
    # Medium: only A measured at 64 envs (2000/h); the rest borrow it: 12 h each, 4 slots.
    assert md.hours == pytest.approx(12.0)
    assert md.cost == pytest.approx(24.0)
    assert md.effective_cost == pytest.approx(24.0 / 0.95)
    assert md.total_envs == 256


def test_profile_with_nothing_measured_has_no_figures() -> None:
    p = ProfileConfig(games=["A"], num_envs=8, minibatch_size=256)
    [row] = compare_profiles(
        {"cpu": p},
        [GameProgress("A", 0, 10, None)],
        SpeedBook(),
        price_per_hour=2.0,
        downtime_by_load={},
    )
    assert row.days is None and row.cost is None and row.measured_games == 0
