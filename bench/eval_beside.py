"""Does an evaluation slow a trainer beside it? A trainer's steps/s with and without one.

A real Pong trainer (8 envs x 128, one torch thread, checkpoints every 10 s) runs
throughout; its update lines' charts/SPS are read from metrics.jsonl over three windows:
before (no evaluation), during (the evaluator as the agent runs it: niceness +10, one
torch thread, one envpool thread, CPU, playing the trainer's newest checkpoint over and
over), after (none again). The drop is during against the mean of before and after,
which cancels a slow drift of a shared machine's speed.

    python bench/eval_beside.py [--window 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRAINER = ["--game", "Pong", "--num-envs", "8", "--num-steps", "128", "--minibatch-size", "256"]
TRAINER += ["--torch-threads", "1", "--checkpoint-interval", "10", "--total-steps", "100000000"]


def sps_since(run_dir: Path, t0: float, t1: float) -> list[float]:
    """charts/SPS of the update lines written between t0 and t1."""
    out = []
    for raw in (run_dir / "metrics.jsonl").read_text().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("kind") == "update" and t0 <= line["time"] < t1:
            out.append(float(line["charts/SPS"]))
    return out


def window(run_dir: Path, seconds: float) -> list[float]:
    t0 = time.time()
    time.sleep(seconds)
    return sps_since(run_dir, t0, time.time())


def evaluator(run_dir: Path) -> subprocess.Popen[bytes]:
    """The evaluator exactly as agent/evaluation/runner.py starts it (CPU, nice 10)."""
    from controlroom import protocol
    from controlroom.agent.evaluation import runner

    argv = runner.evaluator_argv(run_dir, protocol.Evaluate(game="Pong", episodes=100))
    return subprocess.Popen(
        argv,
        env=runner.evaluator_env("cpu"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds per window")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="eval_beside-")) / "Pong"
    cmd = [sys.executable, "-W", "ignore", "-m", "controlroom.trainer", "--run-dir", str(run_dir)]
    trainer = subprocess.Popen([*cmd, *TRAINER], stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        while not list((run_dir / "checkpoints").glob("ckpt-*.pt")):
            time.sleep(1)
        time.sleep(10)  # past the first updates' warm-up
        before = window(run_dir, args.window)
        ev = evaluator(run_dir)
        during = window(run_dir, args.window)
        ev.kill()
        ev.wait()
        after = window(run_dir, args.window)
    finally:
        trainer.terminate()
        trainer.wait(60)
    base = (statistics.median(before) + statistics.median(after)) / 2
    mid = statistics.median(during)
    cpu = os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {cpu} cores, load {load}")
    for name, xs in (("before", before), ("during", during), ("after", after)):
        print(f"  {name:<6} median {statistics.median(xs):6.1f} steps/s over {len(xs)} updates")
    print(f"drop while evaluating: {100 * (1 - mid / base):.1f} % (target: at most 10 %)")


if __name__ == "__main__":
    main()
