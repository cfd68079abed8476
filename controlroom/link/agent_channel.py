"""Reach the agent over an SSH connection: a streamlocal channel, else `agent bridge`."""

from __future__ import annotations

import json
import shlex
from typing import Any

import asyncssh

from controlroom.config import HostConfig
from controlroom.link.errors import LOST, NO_AGENT, LinkError
from controlroom.link.session import AgentSession
from controlroom.link.ssh import SshTarget, connect, explain
from controlroom.protocol import MAX_LINE_BYTES

COMMAND_NOT_FOUND = 127


def remote_arg(arg: str) -> str:
    """Quote one argument for the remote shell, letting a leading `~/` mean $HOME."""
    if arg == "~":
        return '"$HOME"'
    if arg.startswith("~/"):
        return '"$HOME"/' + shlex.quote(arg[2:])
    return shlex.quote(arg)


def remote_command(args: list[str]) -> str:
    """A remote command line built from a list, every argument quoted."""
    return " ".join(remote_arg(a) for a in args)


def agent_command(host: HostConfig, *args: str) -> str:
    """`controlroom agent ARGS --state-dir D` on that host."""
    return remote_command([host.controlroom, "agent", *args, "--state-dir", host.state_dir])


async def where(conn: asyncssh.SSHClientConnection, host: HostConfig, alias: str) -> str:
    """The agent's socket path on the host, asked of `controlroom agent where`."""
    result = await _run(conn, agent_command(host, "where"))
    if result.exit_status == COMMAND_NOT_FOUND:
        raise LinkError(
            NO_AGENT,
            f"no controlroom agent on {alias} ({host.controlroom} not found): "
            f"install it with `controlroom {alias} --install`",
        )
    if result.exit_status != 0:
        raise LinkError(
            NO_AGENT,
            f"`controlroom agent where` failed on {alias}: "
            f"{_last_line(result.stderr) or result.exit_status}",
        )
    try:
        return str(json.loads(str(result.stdout))["socket"])
    except (ValueError, KeyError, TypeError):
        said = _last_line(result.stdout)
        raise LinkError(
            NO_AGENT, f"`controlroom agent where` on {alias} said {said!r}, not a socket"
        ) from None


async def ensure_running(conn: asyncssh.SSHClientConnection, host: HostConfig, alias: str) -> None:
    """Start the agent on the host if it is installed but not running."""
    result = await _run(conn, agent_command(host, "ensure"))
    if result.exit_status != 0:
        raise LinkError(
            NO_AGENT,
            f"the agent on {alias} is not running and would not start: "
            f"{_last_line(result.stderr) or result.exit_status}",
        )


async def open_session(target: SshTarget, host: HostConfig) -> AgentSession:
    """Connect, find the agent and start a session; the session owns the connection."""
    conn = await connect(target)
    try:
        return await _open_on(conn, target.alias, host)
    except BaseException:
        conn.close()
        raise


async def _open_on(
    conn: asyncssh.SSHClientConnection, alias: str, host: HostConfig
) -> AgentSession:
    socket_path = await where(conn, host, alias)
    try:
        session = await _streamlocal(conn, socket_path)
        await session.start()
        return session
    except asyncssh.ChannelOpenError:
        pass  # forwarding forbidden, or no socket yet: the bridge tells which
    except LinkError as exc:
        if exc.kind != LOST:
            raise
    await ensure_running(conn, host, alias)
    return await _bridge(conn, host, alias)


async def _streamlocal(conn: asyncssh.SSHClientConnection, path: str) -> AgentSession:
    reader, writer = await conn.open_unix_connection(path, encoding=None)
    return AgentSession(reader, writer, where="ssh", closer=_closer(conn))


async def _bridge(conn: asyncssh.SSHClientConnection, host: HostConfig, alias: str) -> AgentSession:
    try:
        proc = await conn.create_process(agent_command(host, "bridge"), encoding=None)
    except (OSError, asyncssh.Error) as exc:
        raise explain(alias, exc) from None
    session = AgentSession(proc.stdout, proc.stdin, where="ssh bridge", closer=_closer(conn, proc))
    try:
        await session.start()
    except LinkError as exc:
        raise LinkError(NO_AGENT, f"no agent answering on {alias}: {exc.message}") from None
    return session


def _closer(conn: asyncssh.SSHClientConnection, proc: Any = None) -> Any:
    async def close() -> None:
        if proc is not None:
            proc.stdin.write_eof()
            proc.close()
        conn.close()
        await conn.wait_closed()

    return close


async def _run(conn: asyncssh.SSHClientConnection, command: str) -> asyncssh.SSHCompletedProcess:
    try:
        return await conn.run(command, check=False, timeout=60)
    except (OSError, asyncssh.Error) as exc:
        raise LinkError(LOST, f"running {command!r} failed: {exc}") from None


def _last_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[-1] if lines else ""


__all__ = ["MAX_LINE_BYTES", "agent_command", "open_session", "remote_command", "where"]
