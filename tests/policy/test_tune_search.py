"""The tune's pure search: the ladder, the warm-up left out of the measure, the stop
rules and the choice, from figures given."""

from __future__ import annotations

import msgspec

from controlroom.agent.policy import tune_search as ts
from controlroom.protocol import TuneFigures, TuneRung


def test_ladder_doubles_envs_scales_minibatch_and_stops_at_budget_and_ceiling() -> None:
    rungs = ts.ladder(8, 256, max_envs=100, ceiling=None, max_rungs=6)
    assert [(r.num_envs, r.minibatch_size) for r in rungs] == [
        (8, 256), (16, 512), (32, 1024), (64, 2048)
    ]  # fmt: skip
    # The same number of minibatches per update: num_envs / minibatch_size is constant.
    assert {r.num_envs * 128 // r.minibatch_size for r in rungs} == {4}
    assert [r.num_envs for r in ts.ladder(8, 256, max_envs=1024, ceiling=64, max_rungs=6)] == [
        8, 16, 32
    ]  # fmt: skip
    assert len(ts.ladder(8, 256, max_envs=4096, ceiling=None, max_rungs=3)) == 3
    assert ts.rung_seconds(12, 4) == 162.0  # a tenth of the minutes left for switches


def test_window_leaves_out_warmup_and_lines_of_the_previous_trainer() -> None:
    w = ts.Window(since=100.0, warmup=1)
    w.add(ts.Sample(99.0, 0, 0))  # the previous trainer's last line
    w.add(ts.Sample(100.5, 500, 0))  # the start line: no step taken
    w.add(ts.Sample(110.0, 600, 0))  # warm-up: the first update, slow
    assert w.steps_per_s() is None
    w.add(ts.Sample(110.5, 600, 0))  # a checkpoint line: no step taken
    w.add(ts.Sample(111.0, 2600, 1))
    w.add(ts.Sample(111.0, 2600, 1))  # the same line seen twice
    assert w.steps_per_s() == 2000.0
    w.add(ts.Sample(112.0, 4600, 3))
    assert w.steps_per_s() == 2000.0 and w.episodes_per_h() == 5400.0
    other = ts.Window(since=100.0)  # no warm-up (another game's trainer): from its first line
    other.add(ts.Sample(101.0, 100, 0))
    other.add(ts.Sample(103.0, 300, 0))
    assert other.steps_per_s() == 100.0


def rung(envs: int, sps: float, verdict: str = "ok", **kw: float) -> TuneRung:
    return TuneRung(num_envs=envs, minibatch_size=envs * 32, steps_per_s=sps, verdict=verdict, **kw)


def test_stop_rules_diminishing_hot_and_memory() -> None:
    best = rung(16, 2000)
    assert ts.judge(rung(32, 2100), best, min_gain=0.1, max_temp_c=83) == ts.DIMINISHING
    assert ts.judge(rung(32, 2300), best, min_gain=0.1, max_temp_c=83) == ts.OK
    assert ts.judge(rung(32, 3000, temp_c=85.0), best, min_gain=0.1, max_temp_c=83) == ts.HOT
    gib = 2**30
    mem = ts.Memory(ram_used=8 * gib, ram_total=24 * gib, ram_budget=0.9)
    host = rung(16, 2000, rss=16 * 2**28)  # 256 MiB per env
    assert ts.over_budget(host, rung(32, 0), mem) is None  # +4 GiB: 50 %
    over = ts.over_budget(host, rung(128, 0), mem)  # +28 GiB
    assert over is not None and "max_host_ram_fraction 90%" in over
    gpu = ts.Memory(8 * gib, 24 * gib, 0.9, gpu_used=30 * gib, gpu_total=80 * gib, gpu_budget=0.5)
    on_gpu = rung(16, 2000, gpu_mem_per_env=float(gib))
    assert ts.over_budget(on_gpu, rung(32, 0), gpu) is not None  # 46 GiB of 80 > 50 %
    assert ts.over_budget(on_gpu, rung(24, 0), gpu) is None


def test_choice_is_the_fastest_ok_rung_and_the_plan_scales() -> None:
    rungs = [rung(8, 1000), rung(16, 2000), rung(32, 2100, "diminishing"), rung(64, 0, "unstable")]
    assert ts.choose(rungs) is rungs[1]
    assert ts.choose([rung(8, 0, "unstable")]) is None
    base = msgspec.structs.replace(rungs[0], game_steps_per_s=500.0)
    chosen = msgspec.structs.replace(rungs[1], game_steps_per_s=1000.0)
    after = ts.figures_after(TuneFigures(episodes_per_hour=100, days=10, cost=480), base, chosen)
    assert (after.episodes_per_hour, after.days, after.cost) == (200, 5, 240)


def test_the_recheck_refuses_a_gain_the_hosts_drift_explains() -> None:
    """The own shape measured again after the climb: the best rung stands only with
    min_gain over the higher of its two measures; else the own shape is the choice."""
    own, best = rung(8, 1000), rung(16, 1500)
    rungs = [own, best, rung(32, 1550, "diminishing")]
    assert ts.confirmed(rungs, None, min_gain=0.1) == (best, None)  # not rechecked (yet)
    assert ts.confirmed(rungs, rung(8, 1050), min_gain=0.1) == (best, None)  # steady host
    chosen, why = ts.confirmed(rungs, rung(8, 1400), min_gain=0.1)  # the host sped up
    assert chosen is own and why is not None
    assert "1000 steps/s before the climb and 1400 after" in why and "1500" in why
    unmeasured = TuneRung(num_envs=8, minibatch_size=256, verdict="pending")
    assert ts.confirmed(rungs, unmeasured, min_gain=0.1) == (best, None)  # unconfirmed
    # A host that slowed down: the first measure is the higher, the gain is taken on it.
    assert ts.confirmed(rungs, rung(8, 700), min_gain=0.1) == (best, None)
    # The figures' base is the faster own measure; the own shape's first when chosen.
    assert ts.gain_base(rungs, rung(8, 1050), best).steps_per_s == 1050
    assert ts.gain_base(rungs, rung(8, 700), best) is own
    assert ts.gain_base(rungs, rung(8, 1400), own) is own
    # Each rung's time leaves room for the recheck, unless there is nothing to climb.
    assert (ts.measures(3), ts.measures(1)) == (4, 1)


def test_book_round_trips_and_finds_the_running_tune() -> None:
    from controlroom.protocol import TuneState

    book = ts.TuneBook(tunes={"Pong": TuneState(game="Pong", rungs=[rung(8, 1)])}, ceilings={})
    back = msgspec.convert(msgspec.to_builtins(book), ts.TuneBook)
    assert back.running() is not None and back.running().game == "Pong"  # type: ignore[union-attr]
