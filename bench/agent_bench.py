"""Agent figures, printed (not asserted): restart latency, reboot recovery, own CPU, RTT.

    .venv/bin/python bench/agent_bench.py [--quick]

Uses a real agent subprocess and real trainers (CartPole/Pong, tiny settings) on a
temporary state dir. The CPU figure supervises 8 light programs that keep the trainer
contract (a metrics line a second): the agent's per-trainer work is the same as for a
real trainer, and the box is not drowned by 8 PPO processes on a few cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from tests.agent.harness import AgentHarness, shipped_timings, wait_for

# The shipped timings (config.toml's [agent]), not the tests' fast ones.
SHIPPED = shipped_timings()

# A command template: braces that are not placeholders are doubled.
BEATING = """
import json, time
n = 0
while True:
    n += 1
    with open("metrics.jsonl", "a") as f:
        f.write(json.dumps(dict(time=time.time(), kind="update", global_step=n * 64,
                                **{{"charts/episodes": n, "charts/SPS": 1000.0}})) + "\\n")
    time.sleep(1.0)
"""


def running(agent: AgentHarness, game: str) -> bool:
    return agent.game(game).get("state") == "running"


def restart_latency(root: Path, rounds: int) -> None:
    agent = AgentHarness(root)
    agent.write_config(agent=SHIPPED)
    try:
        agent.start()
        agent.call("add_game", game="CartPole")
        spawned, trained = [], []
        for _ in range(rounds):
            wait_for(lambda: running(agent, "CartPole"), 120, "running")
            # Each kill is a first crash: without this the backoff doubles (1, 2, 4 s)
            # and the 5th crash in 10 minutes is, rightly, a crash loop.
            agent.call("start_game", game="CartPole")
            pid = agent.game("CartPole")["pid"]
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda p=pid: agent.game("CartPole").get("pid") not in (None, p), 60)
            spawned.append(time.monotonic() - killed)
            wait_for(lambda: running(agent, "CartPole"), 120, "running again")
            trained.append(time.monotonic() - killed)
        print(
            f"trainer death -> new trainer started: median {statistics.median(spawned):.2f}s "
            f"(max {max(spawned):.2f}s, {rounds} first crashes, backoff_initial_s=1.0)"
        )
        print(
            f"trainer death -> training again (first metrics line): median "
            f"{statistics.median(trained):.2f}s (includes trainer warm-up)"
        )
    finally:
        agent.close()


def reboot_recovery(root: Path, games: list[str]) -> None:
    agent = AgentHarness(root)
    agent.write_config(agent=SHIPPED)
    try:
        agent.start()
        for game in games:
            agent.call("add_game", game=game, settings={"num_envs": 2})
        for game in games:
            wait_for(lambda g=game: running(agent, g), 180, f"{game} running")
        agent.kill()
        agent.kill_trainers()
        agent.boot_file.write_text("boot-2\n")
        started = time.monotonic()
        agent.start()
        answered = time.monotonic() - started
        wait_for(lambda: all(agent.game(g).get("pid") for g in games), 60, "spawned")
        spawned = time.monotonic() - started
        for game in games:
            wait_for(lambda g=game: running(agent, g), 180, f"{game} resumed")
        trained = time.monotonic() - started
        print(
            f"reboot -> agent answering: {answered:.2f}s; every wanted game ({len(games)}) "
            f"spawned: {spawned:.2f}s; all training again: {trained:.2f}s (incl. warm-up)"
        )
    finally:
        agent.close()


def agent_cpu(root: Path, seconds: float) -> None:
    games = [
        "Pong",
        "Breakout",
        "MsPacman",
        "Asteroids",
        "Enduro",
        "Freeway",
        "Seaquest",
        "SpaceInvaders",
    ]
    agent = AgentHarness(root)
    agent.write_config(
        agent=SHIPPED, games={g: {"command": [sys.executable, "-c", BEATING]} for g in games}
    )
    try:
        agent.start()
        for game in games:
            agent.call("add_game", game=game)
        wait_for(lambda: all(running(agent, g) for g in games), 60, "8 running")
        watcher = agent.client()  # one TUI-like client receiving every update
        proc = psutil.Process(agent.proc.pid)  # type: ignore[union-attr]
        before, t0 = proc.cpu_times(), time.monotonic()
        time.sleep(seconds)
        after, t1 = proc.cpu_times(), time.monotonic()
        used = (after.user + after.system) - (before.user + before.system)
        print(
            f"agent CPU supervising 8 trainers (+1 client): {100 * used / (t1 - t0):.2f}% "
            f"of one core over {t1 - t0:.0f}s; RSS {proc.memory_info().rss / 2**20:.0f} MiB"
        )
        watcher.close()
    finally:
        agent.close()


def round_trip(root: Path, count: int) -> None:
    agent = AgentHarness(root)
    agent.write_config(agent=SHIPPED)
    try:
        agent.start()
        with agent.client() as c:
            times = []
            for _ in range(count):
                t = time.perf_counter()
                c.call("ping")
                times.append(time.perf_counter() - t)
            status_t = time.perf_counter()
            c.call("status")
            status_ms = 1000 * (time.perf_counter() - status_t)
        times.sort()
        print(
            f"socket round trip (ping, {count}x): median {1000 * times[len(times) // 2]:.3f} ms, "
            f"p99 {1000 * times[int(len(times) * 0.99)]:.3f} ms; status: {status_ms:.1f} ms"
        )
    finally:
        agent.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter windows")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("rtt", "restart", "reboot", "cpu"):
            (root / name).mkdir()
        print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        round_trip(root / "rtt", 500 if quick else 2000)
        agent_cpu(root / "cpu", 20 if quick else 60)
        restart_latency(root / "restart", 2 if quick else 4)
        reboot_recovery(root / "reboot", ["CartPole", "Pong"])


if __name__ == "__main__":
    main()
