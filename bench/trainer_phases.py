"""Where a PPO iteration's time goes at each shape: the rollout (envpool stepping and the
policy's forward passes) against the update (epochs of minibatch forward and backward),
the real trainer loop (controlroom.trainer.loop.Trainer) timed phase by phase, each
shape in its own process, one after another.

    python bench/trainer_phases.py                        # Pong, 8:256 16:512 32:1024 64:2048
    python bench/trainer_phases.py --shapes 8:256,32:1024 --iterations 4

Why it matters to tune (issue 20): tune's ladder keeps the algorithm per sample (the
minibatches per update, the epochs), so a larger shape can only save on the rollout's
per-step overheads; where the update is most of an iteration, no shape can be much
faster than the default. The last column is that bound: the speed the shape would have
if its rollout cost nothing. Prints figures; it is not a pass/fail test."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import cpu_model  # bench/ is this script's directory
from ourloop import run_ours

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def worker(a: argparse.Namespace) -> dict[str, Any]:
    """One shape's iterations, each phase timed; the first iteration is left out."""
    times: dict[str, list[float]] = {"rollout": [], "update": []}

    def timed(phase: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            started = time.perf_counter()
            out = step(*args)
            times[phase].append(time.perf_counter() - started)
            return out

        return run

    def timing(trainer: type) -> type:
        class Timed(trainer):
            def __init__(self, *args: Any) -> None:
                super().__init__(*args)
                self._collect = timed("rollout", self._collect)
                self._learn = timed("update", self._learn)

        return Timed

    values = {
        "game": a.game,
        "num_envs": a.num_envs,
        "num_steps": a.num_steps,
        "minibatch_size": a.minibatch_size,
        "device": "cpu",
    }
    _lines, threads = run_ours(values, a.iterations, timing)
    rollout, update = (statistics.median(times[k][1:]) for k in ("rollout", "update"))
    return {"rollout": rollout, "update": update, "threads": threads}


def run_shape(a: argparse.Namespace, envs: int, minibatch: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", "--game", a.game, "--num-envs", str(envs)]
    cmd += ["--minibatch-size", str(minibatch), "--num-steps", str(a.num_steps)]
    cmd += ["--iterations", str(a.iterations)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    answer: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--game", default="Pong")
    p.add_argument("--shapes", default="8:256,16:512,32:1024,64:2048", help="ENVS:MINIBATCH,...")
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--iterations", type=int, default=3, help="measured, after one warm-up")
    p.add_argument("--num-envs", type=int, default=8, help=argparse.SUPPRESS)
    p.add_argument("--minibatch-size", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(a)))
        return
    load = os.getloadavg()[0]
    print(f"CPU {cpu_model()}, {os.cpu_count()} cores, load {load:.1f}; device cpu")
    print(f"{a.game}, x {a.num_steps} steps, median of {a.iterations} iterations after one")
    print(
        f"{'envs:minibatch':>15} {'rollout s':>9} {'update s':>9} {'update %':>8} "
        f"{'steps/s':>8} {'vs first':>8} {'no-rollout bound':>16}"
    )
    first: float | None = None
    for shape in a.shapes.split(","):
        envs, minibatch = (int(x) for x in shape.split(":"))
        r = run_shape(a, envs, minibatch)
        steps = envs * a.num_steps
        sps = steps / (r["rollout"] + r["update"])
        bound = steps / r["update"]
        first = first or sps
        print(
            f"{shape:>15} {r['rollout']:>9.2f} {r['update']:>9.2f} "
            f"{r['update'] / (r['rollout'] + r['update']):>8.0%} {sps:>8.0f} "
            f"{sps / first:>7.2f}x {bound / first:>15.2f}x"
        )


if __name__ == "__main__":
    main()
