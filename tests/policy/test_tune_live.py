"""The tune in a real agent, with a stand-in trainer whose steps/s and memory are known
functions of its num_envs (tests/policy/tune_fake.py): the search picks the known best
and stops where it must; a candidate killed -9 and a reboot under one are unstable
rungs (the game back on its shape, no crash loop); an agent restart resumes the tune."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
import tomli_w

from tests.agent.harness import FAST_AGENT, AgentHarness, wait_for

FAKE = str(Path(__file__).with_name("tune_fake.py"))


def command(curve: str) -> list[str]:
    return [sys.executable, FAKE, curve, "{num_envs}", "{run_dir}"]


def write(h: AgentHarness, games: dict[str, str], **guard: Any) -> None:
    doc = {
        "trainer": {"num_envs": 8, "num_steps": 128, "minibatch_size": 256, "device": "cpu"},
        "games": {g: {"command": command(curve)} for g, curve in games.items()},
        "guard": {"max_total_envs": 64, **guard},
        "tune": {"min_gain": 0.1, "warmup_updates": 1},
        "profiles": {"both": {"games": list(games), "num_envs": 8, "minibatch_size": 256}},
        "agent": {**FAST_AGENT, "telemetry_s": 0.5, "stop_grace_s": 5.0},
    }
    h.config_path.write_text(tomli_w.dumps(doc))


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    h = AgentHarness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def start_games(h: AgentHarness, *games: str) -> None:
    h.start()
    for game in games:
        h.call("add_game", game=game)
    for game in games:
        wait_for(lambda g=game: h.game(g).get("state") == "running", 30, f"{game} running")


def tune_of(h: AgentHarness, game: str) -> dict[str, Any]:
    tunes: dict[str, Any] = h.call("tune_status")["tunes"]
    return tunes.get(game) or {}


def rung_running(h: AgentHarness, game: str, index: int) -> int:
    """The candidate's pid once rung `index` is measured with its trainer running."""
    t, g = tune_of(h, game), h.game(game)
    envs = t["rungs"][index]["num_envs"] if t else None
    here = t.get("current") == index and g.get("settings", {}).get("num_envs") == envs
    return int(g["pid"]) if here and g.get("state") == "running" and g.get("pid") else 0


def reboot_under_rung(h: AgentHarness, index: int, minutes: float, ends: str) -> dict[str, Any]:
    """Tune Pong, "reboot" the host (agent and trainers killed, a new boot id) while rung
    `index` runs, start the agent again: the tune once its status is `ends`."""
    write(h, {"Pong": "rising"})
    start_games(h, "Pong")
    h.call("tune", games=["Pong"], minutes=minutes)
    wait_for(lambda: rung_running(h, "Pong", index), 60, f"rung {index} running")
    h.kill()
    h.kill_trainers()
    h.boot_file.write_text("boot-2\n")
    h.start()
    return wait_for(lambda: (t := tune_of(h, "Pong"))["status"] == ends and t, 30, "the end")


def events(h: AgentHarness, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.call("events", limit=500)["events"] if e["kind"] == kind]


def test_search_picks_the_peak_and_stops_at_the_memory_budget(harness: AgentHarness) -> None:
    h = harness
    vm = psutil.virtual_memory()
    # The memory curve reports a third of the host's RAM per 8 envs: 16 envs fit under
    # this budget, 32 would not (a sixth of the RAM of margin either way).
    budget = min(0.99, (vm.total - vm.available) / vm.total + 0.5)
    write(h, {"Pong": "peak", "CartPole": "memory"}, max_host_ram_fraction=round(budget, 3))
    start_games(h, "Pong", "CartPole")
    dry = h.cli("tune", "Pong", "CartPole", "--minutes", "0.3", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)["tunes"]
    # max_total_envs 64 less the other game's 8: 8, 16, 32 (64 would cross it).
    assert [r["num_envs"] for r in planned["Pong"]["rungs"]] == [8, 16, 32]
    assert [r["minibatch_size"] for r in planned["Pong"]["rungs"]] == [256, 512, 1024]
    assert tune_of(h, "Pong") == {}  # a dry run starts nothing
    done = h.cli("tune", "Pong", "CartPole", "--minutes", "0.3", "--wait", "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    tunes = json.loads(done.stdout)["tunes"]
    pong, cart = tunes["Pong"], tunes["CartPole"]
    # Pong: the host's steps/s (CartPole's 1600 counted in) gains 38 % at 16 envs, 3 % at 32.
    assert [r["verdict"] for r in pong["rungs"]] == ["ok", "ok", "diminishing"]
    assert (pong["chosen"]["num_envs"], pong["chosen"]["minibatch_size"]) == (16, 512)
    host16, game16 = pong["rungs"][1]["steps_per_s"], pong["rungs"][1]["game_steps_per_s"]
    assert game16 == pytest.approx(2000, rel=0.15) and host16 == pytest.approx(3600, rel=0.15)
    # The plan's days and cost to target: twice the game's steps/s, half the days.
    before, after = pong["before"], pong["after"]
    assert before["days"] > 0 and before["cost"] > 0
    assert after["days"] == pytest.approx(before["days"] / 2, rel=0.2)
    # CartPole: faster at 16, but 32 would cross the host RAM budget (not run).
    assert [r["verdict"] for r in cart["rungs"]] == ["ok", "ok", "over_budget"]
    assert "max_host_ram_fraction" in cart["rungs"][2]["reason"]
    assert cart["rungs"][2]["started_at"] is None and cart["chosen"]["num_envs"] == 16
    # Pong's own shape measured again after the climb: the host steady, 16 envs stands.
    assert pong["recheck"]["verdict"] == "ok" and pong["recheck"]["num_envs"] == 8
    assert pong["recheck"]["steps_per_s"] == pytest.approx(2600, rel=0.15)
    # Both went back to their shapes and keep their progress.
    for game in ("Pong", "CartPole"):
        wait_for(lambda g=game: h.game(g).get("state") == "running", 30, f"{game} back")
        assert h.game(game)["settings"]["num_envs"] == 8
    # A rung event each, and one for each game's own shape measured again (the recheck).
    assert len(events(h, "tune_rung")) == 8 and len(events(h, "tune_finished")) == 2
    marks = h.call("history", game="Pong")["marks"]
    assert [m["kind"] for m in marks if m["kind"] == "tune"] == ["tune", "tune"]
    # A tuned profile: each game with its chosen shape.
    tuned = h.cli("apply", "both", "--tuned", "--dry-run")
    assert tuned.returncode == 0, tuned.stderr
    assert "num_envs 8 -> 16, minibatch_size 256 -> 512" in tuned.stdout
    assert "migrate" not in h.cli("apply", "both", "--dry-run").stdout
    # Apply: a migration to the chosen shape, with a snapshot to roll back to.
    applied = h.cli("tune-apply", "Pong")
    assert applied.returncode == 0, applied.stderr
    assert "16 envs, minibatch 512" in applied.stdout
    assert h.game("Pong")["settings"]["num_envs"] == 16 and tune_of(h, "Pong")["applied"]


def test_killed_candidate_and_agent_restart(harness: AgentHarness) -> None:
    h = harness
    write(h, {"Pong": "rising"})
    start_games(h, "Pong")
    assert h.call("tune", games=["Pong"], minutes=0.4)["tunes"]["Pong"]["status"] == "running"
    wait_for(lambda: rung_running(h, "Pong", 1), 60, "the 16-env rung")
    # An agent restart mid-rung: the tune resumes (the rung measured again).
    h.terminate()
    h.start()
    assert tune_of(h, "Pong")["status"] == "running"
    pid = wait_for(lambda: rung_running(h, "Pong", 2), 90, "the 32-env rung after a restart")
    assert tune_of(h, "Pong")["rungs"][1]["verdict"] == "ok"
    os.kill(pid, signal.SIGKILL)
    t = wait_for(lambda: (t := tune_of(h, "Pong"))["status"] == "finished" and t, 60, "the end")
    assert t["rungs"][2]["verdict"] == "unstable" and "crash" in t["rungs"][2]["reason"]
    assert t["ceiling"] == 32 and t["chosen"]["num_envs"] == 16
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    g = h.game("Pong")
    assert g["settings"]["num_envs"] == 8 and g["restarts"] <= 1
    assert not events(h, "crash_loop")
    # The ceiling holds for the next tune of Pong: its ladder stays under 32.
    again = h.call("tune", games=["Pong"], minutes=0.4, dry_run=True)["tunes"]["Pong"]
    assert [r["num_envs"] for r in again["rungs"]] == [8, 16]
    # A tune cancelled: the game back on its shape at once.
    h.call("tune", games=["Pong"], minutes=0.4)
    wait_for(lambda: rung_running(h, "Pong", 1), 60, "the 16-env rung")
    cancelled = h.cli("tune-cancel")
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
    assert tune_of(h, "Pong")["status"] == "cancelled"
    assert h.game("Pong")["settings"]["num_envs"] == 8


def test_reboot_under_a_candidate_is_an_unstable_rung(harness: AgentHarness) -> None:
    h = harness
    t = reboot_under_rung(h, 1, minutes=0.4, ends="finished")
    assert t["rungs"][1]["verdict"] == "unstable" and "rebooted" in t["rungs"][1]["reason"]
    assert t["ceiling"] == 16 and t["chosen"]["num_envs"] == 8
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    assert h.game("Pong")["settings"]["num_envs"] == 8
    assert [e["game"] for e in events(h, "tune_finished")] == ["Pong"]


def test_a_rung_too_slow_to_measure_ends_the_climb(harness: AgentHarness) -> None:
    h = harness
    write(h, {"Pong": "slow"}, max_total_envs=32)  # 8, 16, 32
    start_games(h, "Pong")
    h.call("tune", games=["Pong"], minutes=0.25)
    t = wait_for(lambda: (t := tune_of(h, "Pong"))["status"] == "finished" and t, 60, "the end")
    # 16 envs wrote its warm-up update and then nothing more within twice its rung's time:
    # not a crash (no ceiling learned), not a figure: the climb stops below it.
    slow = t["rungs"][1]
    assert slow["verdict"] == "diminishing" and "too slow to measure" in slow["reason"]
    assert t["rungs"][2]["verdict"] == "pending" and t["ceiling"] is None
    assert t["chosen"]["num_envs"] == 8
    # A measured rung names the threads its trainer ran with: the agent's share of the
    # host's cores for the one trainer (envpool's no more than its envs).
    cores = len(os.sched_getaffinity(0))
    assert t["rungs"][0]["ran_threads"] == f"{cores}+{min(cores, 8)}"
    shown = h.cli("tune").stdout  # `agent tune`: the table's threads column
    assert " threads " in shown and f" {cores}+{min(cores, 8)} " in shown
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    assert h.game("Pong")["settings"]["num_envs"] == 8 and h.game("Pong")["restarts"] == 0


def test_a_reboot_under_the_games_own_shape_abandons_the_tune(harness: AgentHarness) -> None:
    h = harness
    t = reboot_under_rung(h, 0, minutes=2, ends="abandoned")
    # The reboot came under the shape the game always ran: nothing about a candidate is
    # learned (no ceiling), nothing is chosen, and the game resumes on its shape.
    assert "rebooted" in t["reason"] and t["ceiling"] is None and t["chosen"] is None
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    assert h.game("Pong")["settings"]["num_envs"] == 8
    again = h.call("tune", games=["Pong"], minutes=2, dry_run=True)["tunes"]["Pong"]
    assert [r["num_envs"] for r in again["rungs"]] == [8, 16, 32, 64]


def test_a_gain_the_hosts_drift_explains_is_refused_by_the_recheck(
    harness: AgentHarness,
) -> None:
    h = harness
    write(h, {"Pong": "drift"}, max_total_envs=32)  # 8, 16, 32
    start_games(h, "Pong")
    h.call("tune", games=["Pong"], minutes=0.4)
    t = wait_for(lambda: (t := tune_of(h, "Pong"))["status"] == "finished" and t, 90, "the end")
    # The host got faster by the second, whatever the shape: each rung beat the one
    # before it, and so did the own shape measured again after the climb.
    first, again = t["rungs"][0], t["recheck"]
    assert t["rungs"][1]["verdict"] == "ok"
    assert again["verdict"] == "ok" and again["num_envs"] == 8
    assert again["steps_per_s"] > 1.1 * first["steps_per_s"]
    # The climb's best is not 10 % over the own shape's later measure: the own shape it is.
    assert t["chosen"]["num_envs"] == 8 and "drifted" in t["reason"], json.dumps(t, indent=1)
    shown = h.cli("tune").stdout
    assert " 8 again " in shown and "drifted" in shown
    assert len(events(h, "tune_rung")) == len([r for r in t["rungs"] if r["ended_at"]]) + 1
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    assert h.game("Pong")["settings"]["num_envs"] == 8


def test_a_reboot_during_the_recheck_leaves_the_climbs_choice_unconfirmed(
    harness: AgentHarness,
) -> None:
    h = harness
    write(h, {"Pong": "rising"}, max_total_envs=16)  # 8, 16, then 8 again
    start_games(h, "Pong")
    h.call("tune", games=["Pong"], minutes=0.3)

    def rechecking() -> bool:
        again, g = tune_of(h, "Pong").get("recheck"), h.game("Pong")
        return bool(again and again["verdict"] == "running" and g.get("state") == "running")

    wait_for(rechecking, 60, "the recheck running")
    h.kill()
    h.kill_trainers()
    h.boot_file.write_text("boot-2\n")
    h.start()
    t = wait_for(lambda: (t := tune_of(h, "Pong"))["status"] == "finished" and t, 30, "the end")
    # Not measured again: 16 envs stands as measured, said to be unconfirmed; a reboot
    # under the own shape teaches nothing about 16 envs (no ceiling).
    assert t["recheck"]["verdict"] == "pending" and "rebooted" in t["recheck"]["reason"]
    assert t["chosen"]["num_envs"] == 16 and "unconfirmed" in t["reason"]
    assert t["ceiling"] is None
    wait_for(lambda: h.game("Pong").get("state") == "running", 30, "Pong back")
    assert h.game("Pong")["settings"]["num_envs"] == 8
