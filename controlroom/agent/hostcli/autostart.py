"""Start the agent at boot: a systemd user unit where systemd works, else crontab.

`install` and `uninstall` are idempotent and print each change they make. The cron
fallback is an `@reboot` line plus a once-a-minute `agent ensure`, which also revives
an agent that died. `ensure` starts a detached agent unless one answers already.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from controlroom.agent.hostcli.client import AgentUnavailable, Client
from controlroom.agent.storage import paths
from controlroom.agent.storage.configfile import state_dir_for
from controlroom.extras import agent_extra_problem

UNIT_NAME = "controlroom-agent.service"
CRON_MARK = "# controlroom-agent"
ENSURE_WAIT_S = 30.0


def command(args: argparse.Namespace) -> int:
    """Dispatch ensure / install / uninstall."""
    state_dir = state_dir_for(args.state_dir, getattr(args, "config", None))
    if args.command == "ensure":
        return ensure(state_dir, args.config)
    if args.command == "install":
        return install(state_dir, args.mode, args.config)
    return uninstall()


# ---- ensure -------------------------------------------------------------------------
def agent_argv(state_dir: Path, config: str | None, verb: str = "run") -> list[str]:
    """How to run the agent with this very Python (a venv's python keeps its packages)."""
    argv = [sys.executable, "-m", "controlroom.agent", verb, "--state-dir", str(state_dir)]
    return argv + (["--config", str(Path(config).expanduser().absolute())] if config else [])


def is_running(state_dir: Path) -> bool:
    """Whether an agent answers a ping on this state dir's socket."""
    try:
        with Client(paths.socket_path(state_dir), timeout=5.0) as client:
            client.call("ping")
            return True
    except (AgentUnavailable, OSError, ValueError):
        return False


def ensure(state_dir: Path, config: str | None) -> int:
    """Start a detached agent unless one runs; 0 once it answers, at once 1 if it dies."""
    if is_running(state_dir):
        print(f"agent running ({paths.socket_path(state_dir)})")
        return 0
    problem = agent_extra_problem("`controlroom agent ensure` starts the agent, which")
    if problem is not None:  # it would die on its first import: say so now, not in 30 s
        print(f"controlroom agent: {problem}", file=sys.stderr)
        return 2
    paths.ensure_state_dir(state_dir)
    stderr_path = state_dir / "agent.stderr"
    with open(stderr_path, "ab") as err:
        seen = err.tell()  # only this start's lines are news
        proc = subprocess.Popen(
            agent_argv(state_dir, config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    return _wait_started(state_dir, proc, stderr_path, seen)


def _wait_started(
    state_dir: Path, proc: subprocess.Popen[bytes], stderr_path: Path, seen: int
) -> int:
    deadline = time.monotonic() + ENSURE_WAIT_S
    while time.monotonic() < deadline:
        if is_running(state_dir):
            print(f"agent started ({paths.socket_path(state_dir)})")
            return 0
        if proc.poll() is not None and not is_running(state_dir) and not _other_agent(state_dir):
            print(
                f"agent exited during startup (exit code {proc.returncode}); the end of "
                f"{stderr_path}:",
                file=sys.stderr,
            )
            print(_tail(stderr_path, seen), file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(
        f"agent did not answer within {ENSURE_WAIT_S:.0f}s; see {stderr_path} and "
        f"{paths.log_path(state_dir)}",
        file=sys.stderr,
    )
    return 1


def _other_agent(state_dir: Path) -> bool:
    """Whether another agent process holds this state dir (one that systemd or cron just
    started, say): ours then exits on the lock, and the other one is worth waiting for."""
    try:
        pid = int(paths.lock_path(state_dir).read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False
    return b"controlroom" in cmdline and b"agent" in cmdline


def _tail(path: Path, start: int, lines: int = 5) -> str:
    """The last lines written to `path` after byte `start`."""
    with open(path, "rb") as fh:
        fh.seek(start)
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:]) or "(nothing on stderr)"


# ---- systemd ------------------------------------------------------------------------
def unit_path() -> Path:
    """Where a systemd user unit lives."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / UNIT_NAME


def unit_text(state_dir: Path, config: str | None) -> str:
    """The unit: Restart=always; KillMode=process so trainers outlive an agent restart."""
    return "\n".join(
        [
            "[Unit]",
            "Description=controlroom host agent (keeps the wanted games training)",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={shlex.join(agent_argv(state_dir, config))}",
            "Restart=always",
            "RestartSec=2",
            "# Trainers run in their own sessions and must survive an agent restart.",
            "KillMode=process",
            "Environment=PYTHONUNBUFFERED=1",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )


def systemd_usable() -> bool:
    """Whether a systemd user manager answers."""
    try:
        done = subprocess.run(
            ["systemctl", "--user", "show-environment"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _systemctl(*args: str) -> None:
    print("$ systemctl --user " + " ".join(args))
    subprocess.run(["systemctl", "--user", *args], check=True, timeout=30)


def install_systemd(state_dir: Path, config: str | None) -> None:
    """Write (if changed) and enable the unit."""
    path, text = unit_path(), unit_text(state_dir, config)
    if path.exists() and path.read_text() == text:
        print(f"unchanged: {path}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
        _systemctl("daemon-reload")
    _systemctl("enable", "--now", UNIT_NAME)
    user = os.environ.get("USER") or "$USER"
    print(f"to keep it running with nobody logged in: sudo loginctl enable-linger {user}")


# ---- cron ---------------------------------------------------------------------------
def cron_lines(state_dir: Path, config: str | None) -> list[str]:
    """@reboot start, plus a once-a-minute ensure that revives a dead agent."""
    ensure_cmd = shlex.join(agent_argv(state_dir, config, "ensure"))
    return [
        f"@reboot {ensure_cmd} >/dev/null 2>&1 {CRON_MARK}",
        f"* * * * * {ensure_cmd} >/dev/null 2>&1 {CRON_MARK}",
    ]


def read_crontab() -> list[str]:
    """This user's crontab lines ([] when there is none)."""
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines() if done.returncode == 0 else []


def write_crontab(lines: list[str]) -> None:
    """Replace this user's crontab."""
    text = "\n".join(lines) + "\n" if lines else ""
    subprocess.run(["crontab", "-"], input=text, text=True, check=True)


def set_cron(wanted: list[str]) -> bool:
    """Make our marked lines exactly `wanted`; print and return whether anything changed."""
    current = read_crontab()
    ours = [line for line in current if line.endswith(CRON_MARK)]
    if ours == wanted:
        print("crontab unchanged")
        return False
    kept = [line for line in current if not line.endswith(CRON_MARK)]
    write_crontab(kept + wanted)
    for line in ours:
        if line not in wanted:
            print(f"crontab: removed  {line}")
    for line in wanted:
        if line not in ours:
            print(f"crontab: added    {line}")
    return True


# ---- install / uninstall ------------------------------------------------------------
def install(state_dir: Path, mode: str, config: str | None) -> int:
    """Autostart via systemd (auto, when usable) or cron."""
    use_systemd = mode == "systemd" or (mode == "auto" and systemd_usable())
    if use_systemd:
        install_systemd(state_dir, config)
        set_cron([])
    else:
        if mode == "auto":
            print("systemd --user is not usable here; using cron")
        set_cron(cron_lines(state_dir, config))
        ensure(state_dir, config)
    return 0


def uninstall() -> int:
    """Remove the unit and our cron lines; the running agent and trainers are left alone."""
    path = unit_path()
    if path.exists():
        if systemd_usable():
            _systemctl("disable", UNIT_NAME)
        path.unlink()
        print(f"removed {path}")
    else:
        print(f"no unit at {path}")
    set_cron([])
    return 0
