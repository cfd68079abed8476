"""Local mode: find or start an agent on this machine and talk to its socket, no SSH."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from pathlib import Path

from controlroom import extras
from controlroom.link.errors import NO_AGENT, LinkError
from controlroom.link.session import AgentSession
from controlroom.protocol import MAX_LINE_BYTES

ENSURE_TIMEOUT_S = 60.0


def agent_argv(*args: str) -> list[str]:
    """`python -m controlroom agent ARGS` with this interpreter (no import of the agent)."""
    return [sys.executable, "-m", "controlroom", "agent", *args]


def ensure_agent(state_dir: Path, config: Path | None) -> str:
    """Start the local agent if it is not running; return its socket path.

    A running agent is used whatever this install holds; only starting one needs the
    agent extra, and its absence is said at once (the agent would die on its first import
    and `agent ensure` wait for it in vain)."""
    socket_path = where(state_dir)
    if not answers(socket_path):
        problem = extras.agent_extra_problem("`controlroom local` starts an agent here, which")
        if problem is not None:
            raise LinkError(NO_AGENT, problem)
        extra = ["--config", str(config)] if config is not None else []
        _check(
            agent_argv("ensure", "--state-dir", str(state_dir), *extra),
            "start the agent",
            log=state_dir / "agent.stderr",
        )
    return socket_path


def answers(socket_path: str) -> bool:
    """Whether something accepts connections on this unix socket (a stale file does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        with contextlib.suppress(OSError):
            sock.connect(socket_path)
            return True
    return False


def where(state_dir: Path) -> str:
    """The local agent's socket path, from `controlroom agent where`."""
    out = _check(agent_argv("where", "--state-dir", str(state_dir)), "find the agent")
    try:
        return str(json.loads(out)["socket"])
    except (ValueError, KeyError, TypeError):
        raise LinkError(NO_AGENT, f"`controlroom agent where` said {out!r}") from None


async def open_local(socket_path: str) -> AgentSession:
    """A started session on a local agent's unix socket."""
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path, limit=MAX_LINE_BYTES + 2)
    except OSError as exc:
        raise LinkError(NO_AGENT, f"no agent on {socket_path}: {exc.strerror or exc}") from None

    async def closer() -> None:
        writer.close()

    session = AgentSession(reader, writer, where="local", closer=closer)
    await session.start()
    return session


def _check(argv: list[str], what: str, log: Path | None = None) -> str:
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=ENSURE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinkError(NO_AGENT, f"could not {what}: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        where = f" (see {log})" if log is not None and log.is_file() else ""
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise LinkError(NO_AGENT, f"could not {what}: {reason}{where}")
    return done.stdout.strip()
