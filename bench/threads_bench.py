"""Three trainers sharing this host's cores: their summed steps/s with today's defaults
(torch's and envpool's own thread counts: every core each) against the counts the agent
chooses (agent/supervision/threads.py: the cores divided among the trainers), the two
set-ups taken in turn so the machine's drift falls on both.

    python bench/threads_bench.py                       # Pong, Breakout, SpaceInvaders
    python bench/threads_bench.py --rounds 3 --measure 60
    python bench/threads_bench.py --games Pong,Breakout,CartPole-v1

Each phase starts the three built-in trainers (`python -m controlroom.trainer`, 8 envs,
the CPU), skips their start-up and warm-up, then counts each one's steps over the same
window from its metrics lines (updates, and heartbeats every 2 s). Prints figures; it
is not a pass/fail test."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import cpu_model  # noqa: E402  # bench/ is this script's directory

from controlroom.agent.supervision.threads import host_cores, thread_env, threads_for  # noqa: E402
from controlroom.threadenv import AUTO_THREADS_ENV  # noqa: E402


def machine() -> str:
    """The CPU model, the cores this process may use, and the load before the run."""
    model = cpu_model()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}; {host_cores()} cores (affinity); load average {load}"


def trainer_cmd(game: str, run_dir: Path, a: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "controlroom.trainer",
        "--game",
        game,
        "--num-envs",
        str(a.num_envs),
        "--num-steps",
        str(a.num_steps),
        "--minibatch-size",
        str(a.minibatch_size),
        "--total-steps",
        "100000000",
        "--device",
        "cpu",
        "--checkpoint-interval",
        "3600",
        "--run-dir",
        str(run_dir),
        "--torch-threads",
        "0",
        "--envpool-threads",
        "0",
        "--heartbeat-interval",
        "2",
    ]


def updates(run_dir: Path) -> list[tuple[float, int]]:
    """(time, global_step) of each update and heartbeat line the trainer has written
    since it stepped (the heartbeats, every 2 s, carry the step count as it climbs)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("kind") in ("update", "heartbeat") and row.get("global_step"):
            found.append((float(row["time"]), int(row["global_step"])))
    return found


def rate(points: list[tuple[float, int]], start: float, end: float) -> float:
    """Steps/s between the first update line at or after `start` and the last at or
    before `end` (0 when fewer than two fall in the window)."""
    inside = [p for p in points if start <= p[0] <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """User and system CPU the trainers have used so far (every thread of each)."""
    total = 0.0
    for p in procs:
        try:
            times = psutil.Process(p.pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def phase(label: str, env: dict[str, str], a: argparse.Namespace) -> tuple[float, float]:
    """Start the games' trainers with `env` over ours, measure, stop them: the summed
    steps/s, and the steps per CPU-second the trainers used (what they make of the CPU
    they get, whatever share of a busy machine's that is)."""
    with tempfile.TemporaryDirectory(prefix="threads_bench_") as tmp:
        dirs = [Path(tmp) / g for g in a.games]
        base = {k: v for k, v in os.environ.items() if k not in AUTO_THREADS_ENV.values()}
        procs = [
            subprocess.Popen(
                trainer_cmd(g, d, a),
                cwd=REPO,
                env={**base, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for g, d in zip(a.games, dirs, strict=True)
        ]
        try:
            # The window opens once every trainer has stepped, after a warm-up.
            deadline = time.time() + 180
            while not all(updates(d) for d in dirs) and time.time() < deadline:
                time.sleep(1)
            start = time.time() + a.warmup
            end = start + a.measure
            time.sleep(max(0.0, start - time.time()))
            cpu0 = cpu_seconds(procs)
            time.sleep(max(0.0, end - time.time()))
            cpu = cpu_seconds(procs) - cpu0
            time.sleep(3)  # the lines at the window's end
            each = [rate(updates(d), start, end) for d in dirs]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    total = sum(each)
    per_cpu = total * a.measure / cpu if cpu > 0 else 0.0
    figures = "  ".join(f"{g} {x:5.0f}" for g, x in zip(a.games, each, strict=True))
    load = os.getloadavg()[0]
    print(
        f"  {label:<8} {total:6.0f} steps/s ({figures}); {cpu / a.measure:4.2f} cores used, "
        f"{per_cpu:5.0f} steps/CPU-s; load {load:.2f}",
        flush=True,
    )
    return total, per_cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", default="Pong,Breakout,SpaceInvaders")
    p.add_argument("--rounds", type=int, default=2, help="pairs of phases, taken in turn")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds skipped per phase")
    p.add_argument("--measure", type=float, default=45.0, help="seconds measured per phase")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--minibatch-size", type=int, default=256)
    a = p.parse_args()
    a.games = a.games.split(",")
    cores = host_cores()
    settings = {"torch_threads": 0, "envpool_threads": 0, "num_envs": a.num_envs}
    chosen = threads_for(settings, cores, len(a.games))
    print(machine())
    print(
        f"{len(a.games)} trainers ({', '.join(a.games)}), {a.num_envs} envs x {a.num_steps} "
        f"steps, mb {a.minibatch_size}, CPU; chosen threads {chosen.label} "
        f"(torch+envpool) vs the libraries' defaults ({cores}+{cores} each)"
    )
    totals: dict[str, list[float]] = {"defaults": [], "chosen": []}
    per_cpu: dict[str, list[float]] = {"defaults": [], "chosen": []}
    for r in range(a.rounds):
        order = ["defaults", "chosen"] if r % 2 == 0 else ["chosen", "defaults"]
        for label in order:
            env = {} if label == "defaults" else thread_env(chosen)
            total, efficiency = phase(label, env, a)
            totals[label].append(total)
            per_cpu[label].append(efficiency)
    print(f"median summed steps/s: {_ratio(totals)}")
    print(f"median steps per CPU-second: {_ratio(per_cpu)}")
    print("load average now " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


def _ratio(figures: dict[str, list[float]]) -> str:
    base, tuned = (statistics.median(figures[k]) for k in ("defaults", "chosen"))
    return f"defaults {base:.0f}, chosen {tuned:.0f}: {tuned / base if base else float('nan'):.2f}x"


if __name__ == "__main__":
    main()
