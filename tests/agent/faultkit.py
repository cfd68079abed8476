"""Cheap real trainers and a harness for the fault tests, the soak test and bench/soak.py.

STEPPER keeps the trainer contract in a few lines of stdlib Python (starts in ~50 ms, so
dozens of kills fit in a test): it resumes from checkpoints/latest.json, writes a metrics
line every 50 ms and an atomic checkpoint every 0.2 s. It also holds a flock on
`twin.lock` in its run dir; a second copy that finds it held writes TWIN and exits 3,
so any overlap of two writers in one run dir is recorded, however short.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import psutil

from tests.agent.harness import AgentHarness

# A command template: no braces (they would be placeholders).
STEPPER = """
import fcntl, json, os, sys, time
lock = open("twin.lock", "a")
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    with open("TWIN", "a") as f:
        f.write(str(os.getpid()) + chr(10))
    sys.exit(3)
os.makedirs("checkpoints", exist_ok=True)
try:
    with open("checkpoints/latest.json") as f:
        step = json.load(f)["global_step"]
    resumed = step
except (OSError, ValueError, KeyError):
    step, resumed = 0, None
def line(**kw):
    with open("metrics.jsonl", "a") as f:
        f.write(json.dumps(dict(time=time.time(), global_step=step, **kw)) + chr(10))
line(kind="start", resumed_from=resumed, pid=os.getpid())
last = time.time()
while True:
    time.sleep(0.05)
    step += 64
    line(kind="update")
    if time.time() - last >= 0.2:
        with open("checkpoints/tmp.json", "w") as f:
            json.dump(dict(time=time.time(), global_step=step, episodes=step // 64), f)
        os.replace("checkpoints/tmp.json", "checkpoints/latest.json")
        line(kind="checkpoint")
        last = time.time()
"""


def stepper() -> list[str]:
    """The STEPPER command template."""
    return [sys.executable, "-c", STEPPER]


class FaultHarness(AgentHarness):
    """The agent harness, finding trainers by resolved paths (the state dir may be a
    symlink) and by process group (a shell's children count as the trainer's)."""

    def trainers(self, under: str = "runs") -> list[psutil.Process]:
        runs = str((self.state_dir / under).resolve())
        found = []
        for p in psutil.process_iter(["cmdline", "status", "cwd"]):
            cmd = " ".join(p.info["cmdline"] or [])
            cwd = p.info["cwd"] or ""
            if (runs in cmd or cwd.startswith(runs)) and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        return found


def metric_lines(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of a run's metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for text in path.read_text().splitlines():
        try:
            out.append(json.loads(text))
        except ValueError:
            continue  # a line cut by SIGKILL mid-write
    return out


def starts(run_dir: Path) -> list[dict[str, Any]]:
    """The start lines, oldest first."""
    return [x for x in metric_lines(run_dir) if x.get("kind") == "start"]


def checkpoint_step(run_dir: Path) -> int | None:
    """The global_step of checkpoints/latest.json, or None."""
    try:
        return int(json.loads((run_dir / "checkpoints" / "latest.json").read_text())["global_step"])
    except (OSError, ValueError, KeyError):
        return None


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    out = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return out
