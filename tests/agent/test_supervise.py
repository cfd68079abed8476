"""Supervision with real trainers: crash restart + resume, adoption, reboot, crash loop."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import AgentHarness, wait_for

pytestmark = pytest.mark.slow


def metric_lines(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def start_lines(run_dir: Path) -> list[dict[str, Any]]:
    return [x for x in metric_lines(run_dir) if x.get("kind") == "start"]


def steps_after_last_start(run_dir: Path) -> list[int]:
    lines = metric_lines(run_dir)
    last = max(i for i, x in enumerate(lines) if x.get("kind") == "start")
    return [x["global_step"] for x in lines[last + 1 :] if x.get("global_step")]


def running(agent: AgentHarness, game: str) -> dict[str, Any] | None:
    g = agent.game(game)
    return g if g.get("state") == "running" else None


def test_sigkilled_trainer_restarts_and_resumes_from_its_checkpoint(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole")
    run_dir = agent.state_dir / "runs" / "CartPole"
    first = wait_for(lambda: running(agent, "CartPole"), 90, "CartPole running")
    checkpoint = wait_for(lambda: agent.game("CartPole").get("checkpoint"), 90, "a checkpoint")
    os.kill(first["pid"], signal.SIGKILL)
    second = wait_for(
        lambda: (g := agent.game("CartPole")).get("pid") not in (None, first["pid"]) and g,
        30,
        "a new trainer",
    )
    assert second["restarts"] == 1
    wait_for(lambda: len(start_lines(run_dir)) == 2, 90, "the second start line")
    resumed = start_lines(run_dir)[-1]
    assert resumed["resumed_from"], resumed  # it continued from a checkpoint
    steps = wait_for(lambda: steps_after_last_start(run_dir), 60, "progress after resume")
    assert steps[0] >= checkpoint["global_step"]  # counted on from there, not from 0
    kinds = [e["kind"] for e in agent.call("events", limit=50)["events"]]
    assert "crash" in kinds and "restart" in kinds
    assert len(agent.trainers()) == 1


def test_agent_restart_adopts_trainers_without_duplicates(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole")
    before = wait_for(lambda: running(agent, "CartPole"), 90, "CartPole running")
    agent.kill()  # SIGKILL: no goodbye
    assert len(agent.trainers()) == 1  # the trainer outlived its agent
    agent.start()
    after = wait_for(lambda: running(agent, "CartPole"), 30, "adopted CartPole")
    assert after["pid"] == before["pid"]
    time.sleep(2)  # several supervision passes: none may start a second copy
    assert [p.pid for p in agent.trainers()] == [before["pid"]]
    kinds = [e["kind"] for e in agent.call("events", limit=20)["events"]]
    assert "adopted" in kinds
    # and a clean stop of the agent (SIGTERM, as systemd does) leaves the trainer too
    assert agent.terminate() == 0
    assert [p.pid for p in agent.trainers()] == [before["pid"]]


def test_simulated_reboot_is_recorded_and_every_wanted_game_resumes(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole")
    agent.call("add_game", game="Pong", settings={"num_envs": 2})
    for game in ("CartPole", "Pong"):
        wait_for(lambda g=game: running(agent, g), 120, f"{game} running")
    wait_for(lambda: agent.game("CartPole").get("checkpoint"), 60, "a checkpoint")
    time.sleep(1.0)  # at least one heartbeat with both games loaded
    # "power loss": everything dies at once, then the kernel comes back with a new boot id
    agent.kill()
    agent.kill_trainers()
    went_down = time.time()
    time.sleep(1.5)
    agent.boot_file.write_text("boot-2\n")  # its mtime is the new boot time
    agent.start()
    boots = agent.call("reboots")["boots"]
    assert [b["boot_id"] for b in boots] == ["boot-1", "boot-2"]
    new = boots[1]
    assert new["prev_boot_id"] == "boot-1"
    assert new["downtime_before_s"] >= 1.0
    assert new["uptime_before_s"] > 0
    assert abs(boots[0]["last_heartbeat"] - went_down) < 2.0
    assert boots[0]["load"]["games"] == 2
    reboot = [e for e in agent.call("events", limit=50)["events"] if e["kind"] == "reboot"]
    assert len(reboot) == 1 and reboot[0]["data"]["downtime_s"] >= 1.0
    for game in ("CartPole", "Pong"):
        wait_for(lambda g=game: running(agent, g), 120, f"{game} resumed")
    assert start_lines(agent.state_dir / "runs" / "CartPole")[-1]["resumed_from"]
    assert agent.call("status")["host"]["reboots_24h"] == 1


def test_crash_loop_stops_restarting(agent: AgentHarness) -> None:
    agent.write_config(
        games={"Breakout": {"command": [sys.executable, "-c", "import sys; sys.exit(1)"]}}
    )
    agent.start()
    agent.call("add_game", game="Breakout")
    wait_for(lambda: agent.game("Breakout").get("state") == "crash_loop", 60, "crash loop")
    g = agent.game("Breakout")
    assert g["restarts"] == 2 and g["last_exit"] == "exit code 1"
    events = agent.call("events", limit=50)["events"]
    assert [e["kind"] for e in events].count("crash_loop") == 1
    time.sleep(2)  # no restart follows
    assert agent.game("Breakout")["restarts"] == 2
    assert agent.game("Breakout")["state"] == "crash_loop"


def test_reboot_gives_a_crash_loop_a_fresh_chance_and_done_stays_done(
    agent: AgentHarness,
) -> None:
    flag = agent.root / "crash"
    flag.touch()
    crashes = (
        f"import os, sys, time\nos.path.exists({str(flag)!r}) and sys.exit(1)\ntime.sleep(600)"
    )
    agent.write_config(
        games={
            "Breakout": {"command": [sys.executable, "-c", crashes]},
            "Freeway": {"command": [sys.executable, "-c", "print('{game}')"]},
        }
    )
    agent.start()
    agent.call("add_game", game="Freeway")
    agent.call("add_game", game="Breakout")
    wait_for(lambda: agent.game("Breakout").get("state") == "crash_loop", 60, "crash loop")
    wait_for(lambda: agent.game("Freeway").get("state") == "done", 30, "Freeway done")
    agent.kill()
    flag.unlink()  # whatever made it crash went with the old boot
    agent.boot_file.write_text("boot-2\n")
    agent.start()
    events = agent.call("events", limit=100)["events"]
    [reboot] = [e for e in events if e["kind"] == "reboot"]
    started = [e for e in events if e["kind"] == "agent_started"][-1]
    assert started["data"]["crash_loop_reset"] == ["Breakout"]
    assert "crash loops get a fresh chance: Breakout" in started["message"]
    wait_for(lambda: agent.game("Breakout").get("state") == "running", 30, "Breakout running")
    after = [
        (e["kind"], e["game"])
        for e in agent.call("events", limit=100)["events"]
        if e["ts"] >= reboot["ts"]
    ]
    assert ("trainer_started", "Breakout") in after
    assert not [k for k, g in after if g == "Freeway"]  # done stays done: no start
    assert agent.game("Freeway")["state"] == "done"


HANGS = """
import json, sys, time
with open("metrics.jsonl", "a") as f:
    f.write(json.dumps(dict(time=time.time(), kind="start", global_step=0)) + "\\n")
time.sleep(3600)
"""


def test_silent_trainer_is_hung_killed_and_restarted(agent: AgentHarness) -> None:
    agent.write_config(
        agent={"hang_timeout_s": 2.0, "stop_grace_s": 1.0},
        games={"Seaquest": {"command": [sys.executable, "-c", HANGS]}},
    )
    agent.start()
    agent.call("add_game", game="Seaquest")
    first = wait_for(lambda: running(agent, "Seaquest"), 30, "running")
    wait_for(lambda: agent.game("Seaquest").get("restarts", 0) >= 1, 30, "a restart")
    kinds = [e["kind"] for e in agent.call("events", limit=50)["events"]]
    assert "hung" in kinds
    assert first["pid"] not in [p.pid for p in agent.trainers()]


def test_trainer_that_reaches_its_target_is_done_not_restarted(agent: AgentHarness) -> None:
    agent.write_config(games={"Freeway": {"command": [sys.executable, "-c", "print('{game}')"]}})
    agent.start()
    agent.call("add_game", game="Freeway")
    wait_for(lambda: agent.game("Freeway").get("state") == "done", 30, "done")
    time.sleep(1.5)
    g = agent.game("Freeway")
    assert g["state"] == "done" and g["restarts"] == 0
    assert "Freeway" in (agent.state_dir / "runs" / "Freeway" / "trainer.log").read_text()
    kinds = [e["kind"] for e in agent.call("events", limit=50)["events"]]
    assert "target_reached" in kinds


def test_scale_restarts_with_new_settings_and_stop_remove(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole")
    first = wait_for(lambda: running(agent, "CartPole"), 90, "running")
    done = agent.cli("scale", "CartPole", "--num-envs", "4")
    assert done.returncode == 0, done.stderr
    second = wait_for(lambda: running(agent, "CartPole"), 90, "running again")
    assert second["pid"] != first["pid"] and second["settings"]["num_envs"] == 4
    assert "--num-envs 4" in " ".join(agent.trainers()[0].cmdline())
    assert agent.cli("stop-all").returncode == 0
    assert agent.game("CartPole")["state"] == "stopped" and not agent.trainers()
    assert agent.cli("remove", "CartPole").returncode == 0
    assert agent.call("status")["games"] == {}
