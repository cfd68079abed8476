"""Connect to a host by its ~/.ssh/config alias, strictly, and say plainly why it failed."""

from __future__ import annotations

import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from controlroom.link import hostkeys
from controlroom.link.errors import AUTH, HOST_KEY, REFUSED, TIMEOUT, UNKNOWN_HOST, LinkError

KEEPALIVE_INTERVAL_S = 5.0
KEEPALIVE_COUNT_MAX = 3
CONNECT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class SshTarget:
    """How to reach one host: the alias and the client-side knobs."""

    alias: str
    ssh_config: Path | None = None
    """an ssh config file to read instead of ~/.ssh/config (like `ssh -F`)"""
    insecure_accept_host_key: bool = False
    """skip host key checking: an explicit, loud opt-out"""
    keepalive_interval: float = KEEPALIVE_INTERVAL_S
    keepalive_count_max: int = KEEPALIVE_COUNT_MAX


def config_paths(target: SshTarget) -> list[str]:
    """The ssh config files asyncssh should read (it reads none unless told)."""
    if target.ssh_config is not None:
        return [str(target.ssh_config)]
    default = Path.home() / ".ssh" / "config"
    return [str(default)] if default.is_file() else []


async def connect(target: SshTarget) -> asyncssh.SSHClientConnection:
    """An SSH connection to `target.alias`, or LinkError with a one-line reason."""
    paths = config_paths(target)
    keys = hostkeys.read_config(target.alias, paths)
    options: dict[str, Any] = {
        "config": paths,
        "keepalive_interval": target.keepalive_interval,
        "keepalive_count_max": target.keepalive_count_max,
        "connect_timeout": CONNECT_TIMEOUT_S,
    }
    if target.insecure_accept_host_key:
        options["known_hosts"] = None
    elif refusal := hostkeys.refuse_unchecked(target.alias, ssh_command(target), keys):
        raise refusal
    elif (known := keys.known_hosts_arg()) is not None:
        options["known_hosts"] = known
    client = hostkeys.StrictClient()
    try:
        return await asyncssh.connect(target.alias, client_factory=lambda: client, **options)
    except asyncssh.HostKeyNotVerifiable:
        raise hostkeys.explain_rejected(
            target.alias, ssh_command(target), keys, client.offered
        ) from None
    except (OSError, asyncssh.Error) as exc:
        raise explain(target.alias, exc) from None


def ssh_command(target: SshTarget) -> str:
    """The OpenSSH command that reaches the same host with the same config."""
    if target.ssh_config is None:
        return f"ssh {target.alias}"
    return f"ssh -F {shlex.quote(str(target.ssh_config))} {target.alias}"


def explain(alias: str, exc: BaseException) -> LinkError:
    """Map an SSH or socket failure to one line that says what to do."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):  # connect() says which, with the key
        return LinkError(HOST_KEY, f"host key for {alias} could not be verified: {exc.reason}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return LinkError(
            AUTH,
            f"authentication to {alias} failed: no accepted key (check ssh-agent, "
            f"IdentityFile and `ssh {alias}`)",
        )
    if isinstance(exc, socket.gaierror):
        return LinkError(
            UNKNOWN_HOST,
            f"unknown host {alias!r}: no Host entry in the ssh config and not a resolvable name",
        )
    if isinstance(exc, ConnectionRefusedError):
        return LinkError(REFUSED, f"{alias} refused the connection (is sshd running there?)")
    if isinstance(exc, TimeoutError | asyncssh.ConnectionLost):
        return LinkError(TIMEOUT, f"{alias} did not answer: {exc or 'timed out'}")
    reason = getattr(exc, "reason", None) or exc.strerror if isinstance(exc, OSError) else None
    return LinkError(REFUSED, f"cannot reach {alias}: {reason or exc}")
