"""A real tune: a real agent on a temporary state dir, Pong on the built-in trainer at the
shipped shape (8 envs x 128, minibatch 256), then `controlroom agent tune Pong --minutes
N --wait`; prints the table, the chosen shape, and checks no candidate is left.

    python bench/tune_pong.py --minutes 12            # the issue's run
    python bench/tune_pong.py --minutes 3 --max-rungs 3   # a quick check

The agent and its trainers are stopped at the end. Measure the chosen shape against the
default afterwards with `bench/trainer_throughput.py --against ENVS:MINIBATCH`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "controlroom.agent"]


def agent(state: Path, *args: str, timeout: float = 60) -> str:
    out = subprocess.run(
        [*CLI, *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"agent {' '.join(args)}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return out.stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--max-rungs", type=int, default=6)
    a = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tune-pong-"))
    state, config = root / "state", root / "config.toml"
    text = (REPO / "config.toml").read_text()
    text = text.replace("max_rungs = 6 ", f"max_rungs = {a.max_rungs} ")
    config.write_text(text)
    log = open(root / "agent.out", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config), "--state-dir", str(state)],
        stdout=log,
        stderr=log,
        cwd=REPO,
    )
    try:
        run(state, a)
    finally:
        subprocess.run(
            [*CLI, "shutdown", "--stop-trainers", "--state-dir", str(state)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        proc.wait(60)
        left = [
            q.pid
            for q in psutil.process_iter(["cmdline"])
            if str(state) in " ".join(q.info["cmdline"] or [])
        ]
        print(f"processes left under {state}: {left or 'none'}")


def run(state: Path, a: argparse.Namespace) -> None:
    deadline = time.time() + 60
    while not (state / "agent.sock").exists() and time.time() < deadline:
        time.sleep(0.5)
    agent(state, "add", "Pong")
    while json.loads(agent(state, "status", "--json"))["games"]["Pong"]["state"] != "running":
        time.sleep(2)
    started = time.time()
    print(agent(state, "tune", "Pong", "--minutes", str(a.minutes), "--dry-run"))
    out = agent(
        state, "tune", "Pong", "--minutes", str(a.minutes), "--wait", timeout=a.minutes * 120 + 300
    )
    print(out)
    print(f"tune took {(time.time() - started) / 60:.1f} min for --minutes {a.minutes}")
    tunes = json.loads(agent(state, "tune", "--json"))["tunes"]
    print(json.dumps(tunes["Pong"]["chosen"]))
    g = json.loads(agent(state, "status", "--json"))["games"]["Pong"]
    print(f"Pong after the tune: {g['state']}, num_envs {g['settings']['num_envs']}")


if __name__ == "__main__":
    main()
