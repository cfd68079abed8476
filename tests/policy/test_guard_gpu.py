"""The guard per GPU (issue 14.1): memory and temperature budgets hold on each GPU, a
change is checked on the GPUs it lands on, and a GPU over a limit pauses only a game
placed on it; the paused game resumes when its own GPUs are clear."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from controlroom.agent.policy.guard import (
    Change,
    GpuLoad,
    Load,
    Watch,
    breach,
    breaches,
    change_for,
    clear,
    gpu_share,
    load_from,
    verdict,
)
from controlroom.agent.readings.reading import HostReading
from controlroom.config import GuardConfig
from tests.gamestates import game_state, gpu, host

G = GuardConfig(max_gpu_memory_fraction=0.5, max_gpu_temp_c=83.0, action_interval_s=0.0)
GIB = 1 << 30


def telemetry(*gpus: tuple[float, float]) -> HostReading:
    """GPU i with (GiB used of 80, Celsius)."""
    return host(*(gpu(i, used=int(u * GIB), temp=t) for i, (u, t) in enumerate(gpus)))


EIGHT = telemetry((36, 60), (4, 55), (20, 70), (2, 50), (44, 86), (10, 60), (30, 65), (8, 58))


def test_load_keeps_every_gpu_and_the_worst_of_them() -> None:
    load = load_from({}, EIGHT)
    assert [d.index for d in load.gpus] == list(range(8))
    assert load.gpu_memory_fraction == 44 / 80 and load.gpu_temp_c == 86.0
    assert load.gpus[3].memory_fraction == 2 / 80


def test_a_breach_names_its_gpu() -> None:
    load = load_from({}, EIGHT)
    assert breach(G, load) == "GPU 4 memory 55% > max_gpu_memory_fraction 50%"
    assert breaches(G, load) == [
        (4, "GPU 4 memory 55% > max_gpu_memory_fraction 50%"),
        (4, "GPU 4 temperature 86C >= max_gpu_temp_c 83"),
    ]
    cool = load_from({}, telemetry((10, 60), (10, 90)))
    assert breach(G, cool) == "GPU 1 temperature 90C >= max_gpu_temp_c 83"


def test_a_change_is_checked_on_the_gpus_it_lands_on() -> None:
    load = load_from({}, EIGHT)
    # 8 GiB more: fine on GPU 3 (12%), over on GPU 0 (55%), GPU 4 too hot anyway.
    assert verdict(G, load, Change(8, 1, 0.1, (3,))) is None
    assert verdict(G, load, Change(8, 1, 0.1, (0,))) == (
        "refused: GPU 0 memory would be 55% > max_gpu_memory_fraction 50%"
    )
    assert verdict(G, load, Change(8, 1, 0.0, (4,))) == (
        "refused: GPU 4 temperature 86C >= max_gpu_temp_c 83"
    )
    # Not placed: every GPU counts, the fullest refuses first.
    assert verdict(G, load, Change(8, 1, 0.1)) == (
        "refused: GPU 0 memory would be 55% > max_gpu_memory_fraction 50%"
    )


def test_change_for_measures_memory_on_one_gpu_not_the_host() -> None:
    games = {"A": game_state({"num_envs": 64}, gpus=[0], gpu_memory_used=4 * GIB)}
    _, change = change_for(games, EIGHT, "B", {"num_envs": 64}, (3,))
    assert change.gpus == (3,) and change.gpu_memory_fraction == 4 / 80
    # A beside trial's second trainer on A's GPU takes the same share of that GPU.
    assert gpu_share(games, EIGHT, 64, (0,)) == 4 / 80
    # A moving from GPU 0 to GPU 3 brings all its memory, not the difference.
    _, moved = change_for(games, EIGHT, "A", {"num_envs": 64}, (3,))
    assert moved.gpu_memory_fraction == 4 / 80 and moved.trainers == 0


def test_a_hot_gpu_pauses_only_the_game_on_it() -> None:
    w = Watch()
    running = {"Pong": 1.0, "Breakout": 2.0, "MsPacman": 3.0}  # MsPacman is the newest
    placed = {"Pong": [4], "Breakout": [1], "MsPacman": [3]}
    act = w.step(G, load_from({}, EIGHT), running, now=10.0, placed=placed)
    assert act == ("pause", "Pong", "GPU 4 memory 55% > max_gpu_memory_fraction 50%")
    # Nothing of ours left on GPU 4: nothing more to pause for it.
    assert w.step(G, load_from({}, EIGHT), running, now=20.0, placed=placed) is None


def test_a_gpu_over_a_limit_with_none_of_ours_does_not_hide_another() -> None:
    # GPU 4 is full of someone else's memory; GPU 3 is hot and runs Pong.
    hot = telemetry((30, 60), (4, 55), (20, 70), (1, 91), (44, 60))
    act = Watch().step(
        G, load_from({}, hot), {"Pong": 1.0, "Breakout": 2.0}, 10.0, {"Pong": [3], "Breakout": [1]}
    )
    assert act == ("pause", "Pong", "GPU 3 temperature 91C >= max_gpu_temp_c 83")


def test_a_paused_game_resumes_when_its_own_gpu_is_clear() -> None:
    g = replace(G, resume_hold_s=5.0)
    w = Watch(paused=["Pong"])
    placed = {"Pong": [1]}
    busy_neighbour = load_from({}, telemetry((44, 60), (4, 50)))  # GPU 0 over, not ours
    assert not clear(g, busy_neighbour) and clear(g, busy_neighbour, [1])
    assert w.step(g, busy_neighbour, {}, now=10.0, placed=placed) is None
    assert w.step(g, busy_neighbour, {}, now=16.0, placed=placed) == (
        "resume",
        "Pong",
        "back under the guard's limits",
    )


def test_one_gpu_reads_as_before() -> None:
    load = Load(gpu_memory_fraction=0.6)
    assert breaches(G, load) == [(None, "GPU memory 60% > max_gpu_memory_fraction 50%")]


GPU_LOADS = st.lists(
    st.tuples(st.floats(0.0, 1.0), st.floats(20.0, 100.0)), min_size=1, max_size=8
).map(lambda xs: tuple(GpuLoad(i, m, t) for i, (m, t) in enumerate(xs)))
PLACED = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D"]), st.lists(st.integers(0, 7), max_size=2), min_size=1
)


@given(GPU_LOADS, PLACED)
def test_a_pause_is_always_of_a_game_on_a_gpu_over_a_limit(
    gpus: tuple[GpuLoad, ...], placed: dict[str, list[int]]
) -> None:
    load = Load(gpus=gpus, gpu_memory_fraction=max(d.memory_fraction for d in gpus))
    running = {name: float(i) for i, name in enumerate(sorted(placed))}
    act = Watch().step(G, load, running, 0.0, placed)
    over = {gpu for gpu, _ in breaches(G, load)}
    # Those that can relieve a GPU over a limit: on it, or of unknown GPUs.
    candidates = {n for n in running if not placed[n] or over & set(placed[n])}
    if act is None:
        assert not over or not candidates
        return
    kind, game, reason = act
    assert kind == "pause" and game in candidates
    assert reason.startswith("GPU ")
