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
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.agent.harness import AgentHarness, wait_for

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


@dataclass
class Kill:
    """One SIGKILL of a soak and what followed it."""

    pid: int
    killed_at: float
    step_at_kill: int  # the last global_step the killed trainer wrote
    checkpoint_at_kill: int
    new_pid: int = 0
    running_at: float = 0.0  # when the agent showed the new trainer running
    first_line_at: float = 0.0  # the new trainer's start line (its own clock)
    resumed_step: int | None = None  # global_step of the new trainer's start line
    resumed: bool = False  # its start line names a checkpoint it resumed from
    most_trainers: int = 0  # the most trainer processes seen at once meanwhile
    states: set[str] = field(default_factory=set)  # game states seen meanwhile

    @property
    def lost_steps(self) -> int:
        """Steps trained but not checkpointed: trained again after the restart."""
        return self.step_at_kill - (self.resumed_step or 0)


def kill_once(
    agent: FaultHarness, game: str, after_checkpoint: int, extra_s: float, timeout: float = 60.0
) -> Kill:
    """Wait for the game to run and checkpoint beyond `after_checkpoint`, wait `extra_s`,
    SIGKILL its trainer, and watch until the new one has written its start line."""
    run_dir = agent.state_dir / "runs" / game
    g = wait_for(
        lambda: (x := agent.game(game)).get("state") == "running" and x, timeout, f"{game} running"
    )
    wait_for(lambda: (checkpoint_step(run_dir) or 0) > after_checkpoint, timeout, "a checkpoint")
    time.sleep(extra_s)
    seen_starts = len(starts(run_dir))
    os.kill(g["pid"], signal.SIGKILL)
    kill = Kill(g["pid"], time.time(), _last_step(run_dir), checkpoint_step(run_dir) or 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (kill.running_at and kill.first_line_at):
        _observe(agent, game, run_dir, kill, seen_starts)
        time.sleep(0.02)
    if not kill.running_at or not kill.first_line_at:
        raise AssertionError(f"{game} did not come back within {timeout}s: {kill}")
    return kill


def _observe(agent: FaultHarness, game: str, run_dir: Path, kill: Kill, seen_starts: int) -> None:
    kill.most_trainers = max(kill.most_trainers, len(agent.trainers()))
    g = agent.game(game)
    kill.states.add(str(g.get("state")))
    if not kill.running_at and g.get("state") == "running" and g.get("pid") != kill.pid:
        kill.new_pid, kill.running_at = int(g["pid"]), time.time()
    found = starts(run_dir)
    if not kill.first_line_at and len(found) > seen_starts:
        line = found[-1]
        kill.first_line_at, kill.resumed_step = float(line["time"]), line.get("global_step")
        kill.resumed = bool(line.get("resumed_from"))


def _last_step(run_dir: Path) -> int:
    steps = [int(x["global_step"]) for x in metric_lines(run_dir) if "global_step" in x]
    return steps[-1] if steps else 0
