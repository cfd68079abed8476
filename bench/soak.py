"""kill -9 soak: restart latency and lost steps over many SIGKILLs, printed (not asserted).

    .venv/bin/python bench/soak.py [--trainer stepper|cartpole] [--kills N] [--seed S]

A real agent subprocess with the shipped supervision timings (config.toml's [agent]:
backoff from 1 s, crash loop 5 in 600 s) supervises one game; each round waits for the
trainer to run and write a checkpoint, waits a random 0..--extra seconds, SIGKILLs it
and watches the comeback. `stepper` is a stdlib program that keeps the trainer contract
(checkpoint every 0.2 s: the agent's own latency shows); `cartpole` is the built-in
PPO trainer with tiny settings (checkpoint every second: torch's start-up shows).

Figures: kill -> the agent shows a new trainer running; kill -> the new trainer's start
line; lost steps = the last global_step the killed trainer wrote minus the step it
resumed at (trained twice); the most trainers seen at once; crash loops.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from machine import cpu_model  # bench/ is this script's directory

from tests.agent.faultkit import FaultHarness, Kill, kill_once, stepper
from tests.agent.harness import shipped_timings

SHIPPED = shipped_timings()  # config.toml's [agent], not the tests' fast ones


def machine() -> str:
    """One line naming the box the figures came from."""
    model = cpu_model()
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}), {ram:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def soak(root: Path, trainer: str, kills: int, extra_s: float, seed: int) -> list[Kill]:
    """Run the soak; every kill's record."""
    agent = FaultHarness(root)
    games = {"Pong": {"command": stepper()}} if trainer == "stepper" else None
    agent.write_config(agent=SHIPPED, games=games)
    game = "Pong" if trainer == "stepper" else "CartPole"
    rng, done, checkpoint = random.Random(seed), [], 0
    try:
        agent.start()
        agent.call("add_game", game=game)
        for n in range(kills):
            kill = kill_once(agent, game, checkpoint, rng.uniform(0.0, extra_s), timeout=180)
            checkpoint = kill.checkpoint_at_kill
            done.append(kill)
            back = kill.running_at - kill.killed_at
            print(
                f"  kill {n + 1}/{kills}: running again in {back:.2f}s, "
                f"lost {kill.lost_steps} steps",
                flush=True,
            )
        twin = (agent.state_dir / "runs" / game / "TWIN").exists()
        print(
            f"  restarts {agent.game(game)['restarts']}, state {agent.game(game)['state']}, "
            f"twin flock clash: {twin}"
        )
    finally:
        agent.close()
    return done


def report(kills: list[Kill]) -> None:
    """Median, p95 and max of each figure."""
    running = [k.running_at - k.killed_at for k in kills]
    first = [k.first_line_at - k.killed_at for k in kills]
    lost = [k.lost_steps for k in kills]
    print(
        f"kills: {len(kills)}; resumed from a checkpoint: {sum(k.resumed for k in kills)}; "
        f"resumed at the checkpoint the kill left: "
        f"{sum(k.resumed_step == k.checkpoint_at_kill for k in kills)}"
    )
    print(f"kill -> new trainer running (agent status): {_spread(running, 's')}")
    print(f"kill -> new trainer's first metrics line:   {_spread(first, 's')}")
    print(f"lost steps (step at kill - step resumed at): {_spread(lost, '')}")
    print(
        f"most trainers at once: {max(k.most_trainers for k in kills)}; "
        f"crash loops: {sum('crash_loop' in k.states for k in kills)}"
    )


def _spread(values: list[float] | list[int], unit: str) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):.2f}{unit}, p95 {p95:.2f}{unit}, "
        f"max {ordered[-1]:.2f}{unit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainer", choices=("stepper", "cartpole"), default="stepper")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument(
        "--extra",
        type=float,
        default=1.0,
        help="most seconds to wait after a checkpoint before a kill",
    )
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    print(machine())
    print(f"trainer {args.trainer}, {args.kills} kills, shipped timings {SHIPPED}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        kills = soak(Path(tmp), args.trainer, args.kills, args.extra, args.seed)
    report(kills)
    print(f"wall time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
