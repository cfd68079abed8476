"""The load guard: refusals name the limit and the numbers; the running check pauses
the newest game and resumes it with hysteresis."""

from __future__ import annotations

from dataclasses import asdict, replace

import msgspec

from controlroom import protocol
from controlroom.agent.policy import saved
from controlroom.agent.policy.guard import (
    Change,
    GpuLoad,
    Load,
    Watch,
    change_for,
    load_from,
    verdict,
)
from controlroom.agent.readings.reading import HostReading
from controlroom.config import GuardConfig
from controlroom.protocol import GameState
from tests.gamestates import game_state, gpu, host

G = GuardConfig(
    max_gpu_memory_fraction=0.5,
    max_total_envs=1024,
    max_trainers=8,
    max_gpu_temp_c=83.0,
    max_host_ram_fraction=0.9,
)
GIB = 1 << 30


def game(envs: int, state: str = "running", mem: int | None = None) -> GameState:
    return game_state({"num_envs": envs}, state=state, gpu_memory_used=mem)


def telemetry(used: int = 0, total: int = 80 * GIB, temp: float = 50.0) -> HostReading:
    return host(gpu(used=used, total=total, temp=temp), ram_used=10 * GIB)


def test_total_envs_refusal_names_limit_and_numbers() -> None:
    msg = verdict(G, Load(envs=1024, trainers=4), Change(envs=256, trainers=1))
    assert msg == "refused: total envs would be 1280 > max_total_envs 1024 (256 over)"


def test_trainer_refusal() -> None:
    msg = verdict(G, Load(envs=8, trainers=8), Change(envs=8, trainers=1))
    assert msg is not None and "trainer processes would be 9 > max_trainers 8" in msg


def test_gpu_memory_refusal() -> None:
    msg = verdict(G, Load(gpu_memory_fraction=0.45), Change(8, 1, gpu_memory_fraction=0.1))
    assert msg == "refused: GPU memory would be 55% > max_gpu_memory_fraction 50%"


def test_hot_or_full_host_refuses_any_growth() -> None:
    assert "GPU temperature 85C >= max_gpu_temp_c 83" in str(
        verdict(G, Load(gpu_temp_c=85.0), Change(8, 1))
    )
    assert "host RAM 95% >= max_host_ram_fraction 90%" in str(
        verdict(G, Load(ram_fraction=0.95), Change(8, 0))
    )


def test_shrinking_is_always_allowed() -> None:
    assert verdict(G, Load(envs=4096, trainers=20, gpu_temp_c=99.0), Change(-256, -1)) is None
    assert verdict(G, Load(envs=512, trainers=2), Change(256, 1)) is None


def test_load_and_change_from_agent_state() -> None:
    games = {
        "A": game(256, mem=4 * GIB),
        "B": game(256, mem=4 * GIB),
        "C": game(512, state="paused"),
        "D": msgspec.structs.replace(game(64), wanted=False),
    }
    load = load_from(games, telemetry(used=8 * GIB))
    assert (load.envs, load.trainers) == (512, 2)
    assert load.gpu_memory_fraction == 0.1 and load.ram_fraction == 0.1
    # Scaling A from 256 to 512 adds 256 envs, no trainer, 256 * 16 MiB of GPU memory.
    base, change = change_for(games, telemetry(used=8 * GIB), "A", {"num_envs": 512})
    assert (change.envs, change.trainers) == (256, 0)
    assert change.gpu_memory_fraction == 4 / 80
    _, new = change_for(games, telemetry(used=8 * GIB), "E", {"num_envs": 1024})
    assert verdict(G, base, new) == (
        "refused: total envs would be 1536 > max_total_envs 1024 (512 over)"
    )


def test_watch_pauses_newest_then_resumes_after_hold() -> None:
    g = replace(G, action_interval_s=10.0, resume_hold_s=30.0)
    w = Watch()
    running = {"MsPacman": 100.0, "Pong": 200.0, "Asteroids": 300.0}
    hot = Load(gpu_temp_c=85.0)
    act = w.step(g, hot, running, now=1000.0)
    assert act is not None and act[:2] == ("pause", "Asteroids")
    assert "GPU temperature 85C" in act[2]
    assert w.step(g, hot, running, now=1005.0) is None  # settling
    act = w.step(g, hot, running, now=1011.0)
    assert act is not None and act[:2] == ("pause", "Pong")
    # 80 C is under the limit but inside the 5 C margin: no resume.
    assert w.step(g, Load(gpu_temp_c=80.0), running, now=1100.0) is None
    cool = Load(gpu_temp_c=70.0)
    assert w.step(g, cool, running, now=1200.0) is None  # clear since 1200
    assert w.step(g, cool, running, now=1220.0) is None
    assert w.step(g, cool, running, now=1230.0) == (
        "resume",
        "Pong",
        "back under the guard's limits",
    )
    assert w.step(g, cool, running, now=1245.0) is None  # the hold restarts at each resume
    assert w.step(g, cool, running, now=1265.0) == (
        "resume",
        "Asteroids",
        "back under the guard's limits",
    )
    assert w.paused == []


def test_watch_memory_breach_and_persistence() -> None:
    w = Watch()
    act = w.step(
        replace(G, action_interval_s=0.0),
        Load(gpu_memory_fraction=0.6),
        {"A": 1.0, "B": 2.0},
        now=10.0,
    )
    assert act == ("pause", "B", "GPU memory 60% > max_gpu_memory_fraction 50%")
    w.clear_since = 5.0
    back = saved.load(saved.dump(saved.SavedPolicy(guard=w))).guard
    assert back.paused == ["B"] and back.clear_since is None
    back.forget("B")
    assert back.paused == []


def test_the_wire_shows_the_guard_as_the_agent_holds_it() -> None:
    """protocol's GuardBudgets and GuardLoad are [guard] and guard.Load field for field,
    so the policy state's JSON is what asdict gave before they were typed."""
    budgets = msgspec.convert(G, protocol.GuardBudgets, from_attributes=True)
    assert msgspec.to_builtins(budgets) == asdict(G)
    load = Load(envs=3, trainers=1, gpus=(GpuLoad(0, 0.25, 60.0), GpuLoad(1)))
    wire = msgspec.convert(load, protocol.GuardLoad, from_attributes=True)
    assert msgspec.json.encode(wire) == msgspec.json.encode(asdict(load))
