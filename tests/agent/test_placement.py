"""Placement on a multi-GPU host (issue 14.1), the pure decisions: by free memory and
trainer count, pinned, the previous GPUs kept, overfill goes elsewhere or is refused
naming the GPU. Properties (hypothesis) over any host and any request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from controlroom.agent.supervision.placement import (
    Device,
    bytes_per_env,
    devices_from,
    place,
    place_anyway,
    shortfall,
)
from controlroom.protocol import GameState
from tests.gamestates import game_state, gpu

GIB = 1 << 30
TOTAL = 80 * GIB


def host(*used_gib: float, trainers: dict[int, int] | None = None) -> list[Device]:
    """A host whose GPU i has used_gib[i] GiB in use of 80."""
    t = trainers or {}
    return [Device(i, int(u * GIB), TOTAL, t.get(i, 0)) for i, u in enumerate(used_gib)]


def test_a_count_goes_to_the_gpus_with_most_free_memory() -> None:
    devices = host(30, 5, 20, 1, 39, 12, 2, 25)
    assert place("Pong", {"gpus": 1}, devices, need=GIB, budget=0.5).gpus == (3,)
    assert place("Pong", {"gpus": 3}, devices, need=GIB, budget=0.5).gpus == (1, 3, 6)


def test_fewest_trainers_first_then_free_memory() -> None:
    devices = host(1, 10, 10, trainers={0: 2, 1: 1})
    assert place("Pong", {"gpus": 1}, devices, need=GIB, budget=0.5).gpus == (2,)


def test_pinned_wins_over_free_memory() -> None:
    devices = host(30, 0, 0, 0)
    assert place("Pong", {"gpus": [0]}, devices, need=GIB, budget=0.5).gpus == (0,)
    assert place("Pong", {"gpus": [3, 0]}, devices, need=GIB, budget=0.5).gpus == (0, 3)


def test_overfill_goes_to_another_gpu() -> None:
    devices = host(38, 10, 39)  # GPU 0 has the fewest trainers, but 38 + 4 > 40
    decided = place("Pong", {"gpus": 1}, devices, need=4 * GIB, budget=0.5)
    assert decided.gpus == (1,) and decided.refusal is None


def test_overfill_everywhere_is_refused_naming_the_emptiest_gpu() -> None:
    devices = host(38, 37, 39)
    decided = place("Pong", {"gpus": 1}, devices, need=4 * GIB, budget=0.5)
    assert decided.gpus == ()
    assert decided.refusal == (
        "refused: no room for Pong (4.0 GiB on a GPU) within max_gpu_memory_fraction 50%: "
        "the emptiest other, GPU 1, memory would be 51% > max_gpu_memory_fraction 50% "
        "(37.0 GiB used + 4.0 GiB of 80.0 GiB)"
    )


def test_too_few_gpus_with_room_says_which_have_it() -> None:
    decided = place("Pong", {"gpus": 2}, host(38, 1, 39), need=4 * GIB, budget=0.5)
    assert decided.refusal is not None
    assert "on 2 GPUs" in decided.refusal and "only GPU 1 has room" in decided.refusal
    assert "GPU 0, memory would be 52%" in decided.refusal


def test_pinned_overfill_and_missing_gpu_are_refused_naming_it() -> None:
    decided = place("Pong", {"gpus": [2]}, host(0, 0, 39), need=4 * GIB, budget=0.5)
    assert decided.refusal is not None and decided.refusal.startswith(
        "refused: Pong is pinned to GPU 2: memory would be 54%"
    )
    missing = place("Pong", {"gpus": [9]}, host(0, 0), need=0, budget=0.5)
    assert missing.refusal == (
        "refused: Pong is pinned to GPU 9, which this host does not have (it has GPUs 0-1)"
    )
    more = place("Pong", {"gpus": 3}, host(0, 0), need=0, budget=0.5)
    assert more.refusal == "refused: Pong asks for 3 GPUs; this host has 2"


def test_previous_gpus_are_kept_when_they_still_fit() -> None:
    devices = host(20, 0, 0)
    again = place("Pong", {"gpus": 1}, devices, need=GIB, budget=0.5, preferred=[0])
    assert again.gpus == (0,)
    full = place("Pong", {"gpus": 1}, host(39.5, 0, 0), need=GIB, budget=0.5, preferred=[0])
    assert full.gpus == (1,)


def test_a_gpu_at_the_temperature_limit_takes_nothing() -> None:
    devices = [Device(0, 0, TOTAL, 0, 91.0), Device(1, 10 * GIB, TOTAL, 0, 60.0)]
    assert place("Pong", {"gpus": 1}, devices, need=GIB, budget=0.5, max_temp_c=83).gpus == (1,)
    pinned = place("Pong", {"gpus": [0]}, devices, need=GIB, budget=0.5, max_temp_c=83)
    assert pinned.refusal == (
        "refused: Pong is pinned to GPU 0: temperature 91C >= max_gpu_temp_c 83"
    )
    both = place("Pong", {"gpus": 2}, devices, need=GIB, budget=0.5, max_temp_c=83)
    assert both.refusal is not None and "GPU 0, temperature 91C" in both.refusal


def test_no_gpu_host_places_nothing_and_refuses_nothing() -> None:
    for request in (1, 4, [1]):
        assert place("Pong", {"gpus": request}, [], need=GIB, budget=0.5).gpus == ()
    cpu = place("Pong", {"gpus": 1, "device": "cpu"}, host(0, 0), need=GIB, budget=0.5)
    assert cpu.gpus == () and cpu.refusal is None  # set to train on the CPU


def test_a_restart_is_never_refused() -> None:
    devices = host(39, 39.5)
    assert place_anyway("Pong", {"gpus": 1}, devices, need=4 * GIB, budget=0.5) == (0,)
    kept = place_anyway("Pong", {"gpus": 1}, devices, need=4 * GIB, budget=0.5, preferred=[1])
    assert kept == (1,)
    assert place_anyway("Pong", {"gpus": [1, 7]}, devices, need=4 * GIB, budget=0.5) == (1,)


def game(envs: int, gpus: list[int], mem: int | None, state: str = "running") -> GameState:
    return game_state({"num_envs": envs}, state=state, gpus=gpus, gpu_memory_used=mem)


def test_devices_count_what_a_starting_game_will_hold() -> None:
    games = {
        "A": game(64, [0], 4 * GIB),  # 64 MiB per env, measured
        "B": game(32, [1], None, state="starting"),  # holds nothing yet: 2 GiB to come
    }
    tel = [
        gpu(0, used=6 * GIB, total=TOTAL, processes={"A": 4 * GIB}),
        gpu(1, used=GIB, total=TOTAL),
    ]
    assert bytes_per_env(games) == GIB / 16
    d0, d1 = devices_from(tel, games)
    assert (d0.used, d0.trainers) == (6 * GIB, 1)
    assert (d1.used, d1.trainers) == (3 * GIB, 1)
    # The game being placed again gives back what it holds.
    d0, _ = devices_from(tel, games, exclude="A")
    assert (d0.used, d0.trainers) == (2 * GIB, 0)


DEVICES = st.lists(st.tuples(st.integers(0, TOTAL), st.integers(0, 4)), min_size=1, max_size=8).map(
    lambda xs: [Device(i, u, TOTAL, t) for i, (u, t) in enumerate(xs)]
)


@given(DEVICES, st.integers(1, 8), st.integers(0, 20 * GIB), st.floats(0.05, 1.0))
def test_a_placement_never_overfills_and_has_the_asked_size(
    devices: list[Device], count: int, need: int, budget: float
) -> None:
    decided = place("G", {"gpus": count}, devices, need=need, budget=budget)
    if decided.refusal is None:
        assert len(decided.gpus) == count == len(set(decided.gpus))
        by_index = {d.index: d for d in devices}
        assert all(by_index[i].fraction_with(need) <= budget for i in decided.gpus)
    else:
        fitting = [d for d in devices if d.fraction_with(need) <= budget]
        assert len(fitting) < count and decided.gpus == ()
        assert "refused: " in decided.refusal


@given(DEVICES, st.integers(0, 20 * GIB), st.floats(0.05, 1.0))
def test_the_chosen_gpu_is_no_worse_than_any_other_that_fits(
    devices: list[Device], need: int, budget: float
) -> None:
    decided = place("G", {"gpus": 1}, devices, need=need, budget=budget)
    if decided.refusal is None:
        (chosen,) = (d for d in devices if d.index == decided.gpus[0])
        for d in devices:
            if d.fraction_with(need) <= budget:
                assert (chosen.trainers, chosen.used) <= (d.trainers, d.used)


@given(DEVICES, st.integers(1, 8), st.integers(0, 20 * GIB))
def test_place_anyway_always_gives_gpus_that_exist(
    devices: list[Device], count: int, need: int
) -> None:
    chosen = place_anyway("G", {"gpus": count}, devices, need=need, budget=0.5)
    assert len(chosen) == min(count, len(devices))
    assert set(chosen) <= {d.index for d in devices}


def test_a_host_reading_no_gpu_holds_only_games_that_need_one() -> None:
    """No GPU read: a CPU-only host's games (device auto, never placed) train on the CPU
    at any world size; one that ran on GPUs here, is pinned or asks for cuda waits."""
    auto = {"gpus": 2, "device": "auto"}
    assert shortfall("Pong", auto, []) is None
    assert shortfall("Pong", {"gpus": 1, "device": "auto"}, []) is None
    assert shortfall("Pong", {**auto, "device": "cpu"}, [], previous=[0, 1]) is None
    ran = shortfall("Pong", auto, [], previous=[2, 3])
    assert ran is not None and ran.startswith("Pong needs 2 GPUs (it ran on GPUs 2,3 here)")
    assert "is pinned to GPUs 0,1" in (shortfall("Pong", {"gpus": [0, 1]}, []) or "")
    cuda = shortfall("Pong", {"gpus": 1, "device": "cuda"}, [])
    assert cuda is not None and cuda.startswith("Pong needs 1 GPU (it is set to device cuda)")
