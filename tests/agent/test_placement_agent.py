"""Placement through the real agent (issue 14.1) on a recorded 8-GPU host with a mixed
load ($CONTROLROOM_FAKE_GPU, nvml.RecordedReader): games go to the emptiest GPU with
the fewest of our trainers, pinned GPUs win, a GPU over its memory budget is passed
over or the refusal names it, the placement survives an agent restart and a reboot,
the guard pauses only what runs on a GPU over a limit, and CUDA_VISIBLE_DEVICES reaches
the trainer process (read from /proc/<pid>/environ)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.readings.nvml import FAKE_GPU_ENV
from tests.agent.harness import SLEEPER, AgentHarness, wait_for

GIB = 1 << 30
# GiB in use of 80 on GPUs 0..7: GPU 4 is past the guard's 50% already (someone else's).
MIXED: list[float] = [30, 5, 20, 1, 45, 12, 2, 25]


def record(path: Path, used_gib: list[float], temps: dict[int, float] | None = None) -> Path:
    """A recorded frame of 8 H100s with `used_gib` in use (and a temperature each)."""
    frame = [
        {
            "index": i,
            "name": "NVIDIA H100 80GB HBM3",
            "utilization": 40.0,
            "memory_used": int(used * GIB),
            "memory_total": 80 * GIB,
            "temperature_c": (temps or {}).get(i, 55.0),
            "power_w": 300.0,
            "power_limit_w": 700.0,
        }
        for i, used in enumerate(used_gib)
    ]
    path.write_text(json.dumps([frame]))
    return path


def start(h: AgentHarness, used_gib: list[float], temps: dict[int, float] | None = None) -> None:
    """The agent on a recorded host; cheap stand-in trainers."""
    h.env[FAKE_GPU_ENV] = str(record(h.root / "gpus.json", used_gib, temps))
    if not h.config_path.exists():
        h.write_config(
            trainer={"command": SLEEPER},
            agent={"stop_grace_s": 1.0, "telemetry_s": 0.3},
        )
    h.start()


def started(h: AgentHarness, game: str) -> dict[str, Any]:
    """The game once its trainer runs (the stand-in writes no metrics: starting is it)."""
    found: dict[str, Any] = wait_for(
        lambda: (g := h.game(game)).get("pid") and g.get("state") in ("starting", "running") and g,
        30,
        f"{game}'s trainer",
    )
    return found


def environ(pid: int) -> dict[str, str]:
    """A live process's environment (a process that exited has none left to read: the
    wait says so instead of a KeyError further on)."""
    path = Path(f"/proc/{pid}/environ")
    raw = wait_for(path.read_bytes, 5, f"pid {pid}'s environment (exited?)")
    return dict(x.decode().split("=", 1) for x in raw.split(b"\0") if b"=" in x)


def test_games_spread_by_free_memory_and_trainers_and_pinned_wins(agent: AgentHarness) -> None:
    start(agent, MIXED)
    assert agent.call("add_game", game="Pong")["game"]["gpus"] == [3]  # the emptiest
    pong = started(agent, "Pong")
    assert pong["gpus"] == [3]
    env = environ(pong["pid"])
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    # GPU 3 has a trainer now: the next game goes to the emptiest GPU without one.
    agent.call("add_game", game="Breakout")
    assert started(agent, "Breakout")["gpus"] == [6]
    agent.call("add_game", game="Seaquest", settings={"gpus": [0]})  # pinned: not the emptiest
    seaquest = started(agent, "Seaquest")
    assert seaquest["gpus"] == [0] and environ(seaquest["pid"])["CUDA_VISIBLE_DEVICES"] == "0"
    with pytest.raises(OpFailed, match=r"refused: Enduro is pinned to GPU 4: memory would be 56%"):
        agent.call("add_game", game="Enduro", settings={"gpus": [4]})
    with pytest.raises(OpFailed, match=r"pinned to GPU 9, which this host does not have"):
        agent.call("add_game", game="Enduro", settings={"gpus": [9]})
    refused = [e for e in agent.call("events")["events"] if e["kind"] == "guard_refused"]
    assert [e["game"] for e in refused] == ["Enduro", "Enduro"]
    assert "Enduro" not in agent.call("status")["games"]
    # Every GPU under its budget has one of ours: GPU 4 would be next by trainer count
    # but is over its memory budget, so the game goes to another GPU.
    for game in ("MsPacman", "Freeway", "Asteroids", "BeamRider"):
        agent.call("add_game", game=game)
        started(agent, game)
    placed = {n: g["gpus"] for n, g in agent.call("status")["games"].items()}
    assert sorted(i for gpus in placed.values() for i in gpus) == [0, 1, 2, 3, 5, 6, 7]
    agent.call("add_game", game="SpaceInvaders")
    assert started(agent, "SpaceInvaders")["gpus"] == [3]


def test_every_gpu_too_full_is_refused_naming_the_gpu(agent: AgentHarness) -> None:
    start(agent, [41, 44, 48, 42, 47, 43, 45, 46])
    with pytest.raises(OpFailed) as err:
        agent.call("add_game", game="Pong")
    assert err.value.code == "refused"
    assert err.value.message == (
        "refused: no room for Pong (0.0 GiB on a GPU) within max_gpu_memory_fraction 50%: "
        "the emptiest other, GPU 0, memory would be 51% > max_gpu_memory_fraction 50% "
        "(41.0 GiB used + 0.0 GiB of 80.0 GiB)"
    )
    assert agent.call("status")["games"] == {}


def test_placement_survives_agent_restart_and_reboot(agent: AgentHarness) -> None:
    start(agent, MIXED)
    agent.call("add_game", game="Pong")
    first = started(agent, "Pong")
    assert first["gpus"] == [3]
    # The agent dies; on restart GPU 6 is the emptiest, but Pong's trainer is adopted
    # where it runs and keeps GPU 3.
    agent.kill()
    start(agent, [30, 5, 20, 10, 45, 12, 0, 25])
    again = started(agent, "Pong")
    assert (again["pid"], again["gpus"]) == (first["pid"], [3])
    # A reboot: the trainer is gone; the agent resumes Pong on GPU 3 again (free).
    agent.kill()
    agent.kill_trainers()
    agent.boot_file.write_text("boot-2\n")
    start(agent, [30, 5, 20, 10, 45, 12, 0, 25])
    resumed = started(agent, "Pong")
    assert resumed["pid"] != first["pid"] and resumed["gpus"] == [3]
    assert environ(resumed["pid"])["CUDA_VISIBLE_DEVICES"] == "3"
    # GPU 3 full after the next reboot: Pong goes elsewhere rather than overfill it.
    agent.kill()
    agent.kill_trainers()
    agent.boot_file.write_text("boot-3\n")
    start(agent, [30, 5, 20, 44, 45, 12, 0, 25])
    assert started(agent, "Pong")["gpus"] == [6]


def test_a_hot_gpu_pauses_only_the_game_on_it(agent: AgentHarness) -> None:
    start(agent, MIXED)
    agent.call("add_game", game="Pong")
    assert started(agent, "Pong")["gpus"] == [3]
    agent.call("add_game", game="Breakout")  # the newest: the one a host-wide guard pauses
    assert started(agent, "Breakout")["gpus"] == [6]
    agent.kill()
    start(agent, MIXED, temps={3: 91.0})
    paused = wait_for(
        lambda: [e for e in agent.call("events")["events"] if e["kind"] == "guard_paused"],
        30,
        "the guard to pause a game",
    )
    assert [(e["game"], e["message"]) for e in paused] == [
        ("Pong", "paused Pong: GPU 3 temperature 91C >= max_gpu_temp_c 83")
    ]
    wait_for(lambda: agent.game("Pong")["state"] == "paused", 30, "Pong paused")
    assert started(agent, "Breakout")["gpus"] == [6]
    # A scale-up onto the hot GPU is refused naming it; onto a cool one it is placed.
    with pytest.raises(
        OpFailed, match="refused: Breakout is pinned to GPU 3: temperature 91C >= max_gpu_temp_c 83"
    ):
        agent.call("migrate", game="Breakout", settings={"gpus": [3]})
    # A new game passes the hot GPU over, though it is the emptiest without a trainer.
    agent.call("add_game", game="Seaquest")
    assert started(agent, "Seaquest")["gpus"] == [1]
    before = started(agent, "Breakout")["pid"]
    agent.call("migrate", game="Breakout", settings={"gpus": [5]})
    moved = wait_for(
        lambda: (g := started(agent, "Breakout"))["pid"] != before and g, 30, "Breakout moved"
    )
    assert moved["gpus"] == [5] and moved["settings"]["gpus"] == [5]
    assert environ(moved["pid"])["CUDA_VISIBLE_DEVICES"] == "5"


def test_the_real_trainer_gets_its_gpus(agent: AgentHarness) -> None:
    """The built-in trainer (CartPole, on the CPU here) runs with its placement in its
    environment (torch would see that GPU as cuda:0), and so does a beside trial's."""
    agent.env[FAKE_GPU_ENV] = str(record(agent.root / "gpus.json", MIXED))
    agent.write_config()  # device "auto": this machine's CPU, a GPU host's placed GPU
    agent.start()
    agent.call("add_game", game="CartPole", settings={"gpus": [5]})
    game = wait_for(
        lambda: (g := agent.game("CartPole")).get("state") == "running" and g, 90, "CartPole"
    )
    assert game["gpus"] == [5]
    assert "controlroom.trainer" in Path(f"/proc/{game['pid']}/cmdline").read_text()
    env = environ(game["pid"])
    assert (env["CUDA_VISIBLE_DEVICES"], env["CUDA_DEVICE_ORDER"]) == ("5", "PCI_BUS_ID")
    # A beside trial's second trainer runs on its game's GPUs too.
    wait_for(lambda: agent.game("CartPole").get("checkpoint"), 60, "a checkpoint")
    trial = agent.call(
        "trial", game="CartPole", settings={"num_envs": 4}, minutes=5.0, mode="beside"
    )["trial"]
    assert environ(trial["pid"])["CUDA_VISIBLE_DEVICES"] == "5"


def test_a_profile_moves_its_games_to_its_gpus(agent: AgentHarness) -> None:
    agent.write_config(
        trainer={"command": SLEEPER},
        agent={"stop_grace_s": 1.0, "telemetry_s": 0.3},
        games={"Pong": {}, "Breakout": {}},
    )
    profile = '[profiles.five]\ngames = ["Pong", "Breakout"]\ngpus = [5]\n'
    shape = "num_envs = 2\nnum_steps = 16\nminibatch_size = 16\n"
    agent.config_path.write_text(agent.config_path.read_text() + profile + shape)
    start(agent, MIXED)
    agent.call("add_game", game="Pong")
    assert started(agent, "Pong")["gpus"] == [3]
    result = agent.call("apply_profile", name="five", dry_run=False)
    assert [a["text"] for a in result["actions"]] == [
        "migrate Pong: gpus 1 -> [5]",
        "start Breakout: 2 envs, 16 steps, minibatch 16",
    ]

    def on_five() -> bool:
        return [started(agent, g)["gpus"] for g in ("Pong", "Breakout")] == [[5], [5]]

    wait_for(on_five, 30, "Pong and Breakout on GPU 5")
