"""Trainer processes: start them in their own session, find them again, stop them.

A pid alone is never trusted: before adopting or signalling, the process must still
have the create time and command line we recorded, so a recycled pid is left alone.
Our own children are reaped through Popen.poll (waitpid: PID 1 here reaps orphans
slowly, so a dead process can look alive to kill -0); adopted ones are judged by
psutil, zombie = dead.

A trainer is its whole process group (it leads its own session): a shell wrapper's
children are part of it. Signals go to the group, and the trainer is gone only when
no live process of the group remains, so a child that outlives its shell is never
joined by a second writer in the same run dir.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

CREATE_TIME_SLACK_S = 0.05


@dataclass
class TrainerProc:
    """A trainer we started (`popen` set) or adopted after our own restart."""

    pid: int
    create_time: float
    cmdline: list[str]
    popen: subprocess.Popen[bytes] | None = None
    group: bool = True  # it leads its own process group (pgid == pid)

    @property
    def child(self) -> bool:
        """Whether we started it (and so can read its exit code)."""
        return self.popen is not None

    @property
    def exit_code(self) -> int | None:
        """Our child's exit code once reaped (negative: killed by that signal)."""
        return self.popen.returncode if self.popen is not None else None

    def leader_alive(self) -> bool:
        """Whether the process we started or adopted still runs; reaps our own child
        (waitpid) as a side effect."""
        if self.popen is not None:
            return self.popen.poll() is None
        return _matches(self.pid, self.create_time, self.cmdline)

    def alive(self) -> bool:
        """Whether it, or any process of its group, still runs."""
        return self.leader_alive() or (self.group and bool(group_members(self.pid)))

    def signal(self, signum: int) -> None:
        """Signal its whole group, only while it is still the same trainer: its leader
        checked by create time and command line, or, once the leader is gone, members
        left in its group (the kernel hands out no pid still in use as a group id, so
        the id cannot name someone else's processes while any member lives)."""
        if self.leader_alive():
            _send(self.pid, signum, self.group)
        elif self.group and group_members(self.pid):
            _send(self.pid, signum, True)


def _send(pid: int, signum: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone, or not ours
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group; cheap when the group is empty."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass  # someone else's members: still members
    found = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
    return found


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def spawn(
    argv: list[str], run_dir: Path, extra_env: Mapping[str, str] | None = None
) -> TrainerProc:
    """Start a trainer in its own session, output appended to run_dir/trainer.log, with
    `extra_env` (its GPUs) over the agent's environment."""
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with open(run_dir / "trainer.log", "ab") as out:
        popen = subprocess.Popen(
            argv,
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    try:
        create_time = psutil.Process(popen.pid).create_time()
    except psutil.Error:
        create_time = 0.0  # died at once; waitpid will tell
    return TrainerProc(popen.pid, create_time, list(argv), popen)


def adopt(
    pid: int | None,
    create_time: float | None,
    cmdline: list[str] | None,
) -> TrainerProc | None:
    """A recorded trainer that still runs as the same process, else None."""
    if not pid or create_time is None or not cmdline:
        return None
    if not _matches(pid, create_time, cmdline):
        return None
    return TrainerProc(pid, create_time, list(cmdline), group=_leads_group(pid))


def adopt_group(
    pid: int | None, create_time: float | None, cmdline: list[str] | None, run_dir: Path
) -> TrainerProc | None:
    """A recorded trainer whose leader is gone but whose group still runs in its run dir
    (a shell wrapper's child): adopted as the group, so no second writer starts beside
    it. The cwd check guards against a group id reused by someone else."""
    if not pid or create_time is None or not cmdline:
        return None
    run_dir = run_dir.resolve()
    for member in group_members(pid):
        with contextlib.suppress(psutil.Error, OSError):
            cwd = Path(psutil.Process(member).cwd()).resolve()
            if cwd == run_dir or run_dir in cwd.parents:
                return TrainerProc(pid, create_time, list(cmdline), group=True)
    return None


def find_running(cmdline: list[str], run_dir: Path) -> TrainerProc | None:
    """A live process running exactly this command line in this run dir (never start a
    twin). The cwd check matters: a template without {run_dir} reads the same for every
    game and every state dir."""
    for proc in psutil.process_iter(["cmdline", "create_time", "status"]):
        info = proc.info
        if info["cmdline"] != cmdline or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            same_dir = Path(proc.cwd()).resolve() == run_dir
        except (psutil.Error, OSError):
            continue
        if same_dir:
            return TrainerProc(
                proc.pid, float(info["create_time"]), list(cmdline), group=_leads_group(proc.pid)
            )
    return None


def environ(pid: int) -> dict[str, str]:
    """A process's environment (ours to read: the agent's own user); empty when it is
    gone or hidden."""
    try:
        return dict(psutil.Process(pid).environ())
    except (psutil.Error, OSError):
        return {}


def _matches(pid: int, create_time: float, cmdline: list[str]) -> bool:
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if abs(proc.create_time() - create_time) > CREATE_TIME_SLACK_S:
                return False
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return proc.cmdline() == cmdline
    except psutil.Error:
        return False


def terminate(proc: TrainerProc) -> None:
    """Ask it to stop (the trainer checkpoints on SIGTERM)."""
    proc.signal(signal.SIGTERM)


def kill(proc: TrainerProc) -> None:
    """Stop it now, with its whole process group."""
    proc.signal(signal.SIGKILL)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, 0 when gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0
