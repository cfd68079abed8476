"""What the app needs to know about a host: its name, how to open a session, how to install."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from controlroom.link.reconnect import Opener

Progress = Callable[[str], None]
Installer = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class HostTarget:
    """One host the app shows."""

    name: str
    open: Opener
    """makes a started AgentSession (over SSH, or a local socket)"""
    install: Installer | None = None
    """installs and starts the agent there, reporting each step; None where not possible"""
    ensure_games: tuple[str, ...] = ()
    """games to add once connected that the agent does not have wanted (local mode's
    CartPole and Pong)"""
