"""Local mode: find or start an agent on this machine and talk to its socket, no SSH."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from controlroom.link.errors import NO_AGENT, LinkError
from controlroom.link.session import AgentSession
from controlroom.protocol import MAX_LINE_BYTES

ENSURE_TIMEOUT_S = 60.0


def agent_argv(*args: str) -> list[str]:
    """`python -m controlroom agent ARGS` with this interpreter (no import of the agent)."""
    return [sys.executable, "-m", "controlroom", "agent", *args]


def ensure_agent(state_dir: Path, config: Path | None) -> str:
    """Start the local agent if it is not running; return its socket path."""
    extra = ["--config", str(config)] if config is not None else []
    _check(agent_argv("ensure", "--state-dir", str(state_dir), *extra), "start the agent")
    return where(state_dir)


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


def _check(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=ENSURE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinkError(NO_AGENT, f"could not {what}: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise LinkError(NO_AGENT, f"could not {what}: {lines[-1] if lines else done.returncode}")
    return done.stdout.strip()
