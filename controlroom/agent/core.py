"""The agent core's seam, as types: what core ops and the policy engine may call on
the agent (`AgentCore`) and what the core calls on the policy engine (`PolicyView`).

A leaf: it imports nothing of the agent at run time, so every module that codes
against the agent imports this instead of the daemon (docs/agent-internals.md).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from controlroom.config import Settings
from controlroom.protocol import GameState, JSONObject, PolicyState, State, StateUpdate

if TYPE_CHECKING:
    from controlroom.agent.learning.histories import Learning
    from controlroom.agent.readings.reading import HostReading
    from controlroom.agent.storage.store import Store
    from controlroom.agent.supervision.supervisor import Supervisor
    from controlroom.config import Config


class PolicyView(Protocol):
    """The policy engine as the core sees it."""

    def before_resume(self) -> list[str]:
        """The games to hold back before the core resumes the wanted ones."""
        ...

    async def on_start(self) -> None:
        """After the core resumed the wanted games."""
        ...

    async def tick(self, now: float) -> None:
        """One periodic pass (every telemetry interval)."""
        ...

    def check_scale(self, game: str, settings: Settings) -> str | None:
        """The load guard's verdict: None = allowed, else the refusal message."""
        ...

    def state(self) -> PolicyState:
        """The snapshot's "policy" value."""
        ...


class AgentCore(Protocol):
    """The agent as core ops and the policy engine see it.

    `lock` is the core op lock and `game_lock(game)` a game's; daemon.py gives the
    order in which they and the policy lock are taken."""

    config: Config
    state_dir: Path
    store: Store
    supervisor: Supervisor
    learning: Learning
    lock: asyncio.Lock
    stopping: asyncio.Event
    boot_id: str
    current_boot_started: float
    rebooted_this_start: bool

    def game_lock(self, game: str) -> AbstractAsyncContextManager[None]:
        """Hold one game's lock (re-entrant within a task)."""
        ...

    def run_dir(self, game: str) -> Path:
        """Where a game's trainer writes."""
        ...

    def games(self) -> dict[str, GameState]:
        """Every game's protocol GameState."""
        ...

    def telemetry(self) -> HostReading:
        """The latest GPUs and system."""
        ...

    def state(self) -> State:
        """The whole State of the protocol."""
        ...

    async def want_game(
        self, game: str, settings: Settings, *, wanted: bool = True, reset: bool = False
    ) -> GameState:
        """Persist the wanted state, then converge; returns the GameState."""
        ...

    async def want_valid_game(
        self, game: str, settings: Settings, *, wanted: bool = True, reset: bool = False
    ) -> GameState:
        """want_game for whole settings (the supervisor checks them all the same)."""
        ...

    async def forget_game(self, game: str) -> None:
        """Stop a game and drop it."""
        ...

    async def stop_trainer(self, game: str) -> None:
        """Stop the trainer and keep the game, unwanted."""
        ...

    def mark_wanted(self, game: str, wanted: bool) -> None:
        """Persist wanted/unwanted without touching the process."""
        ...

    def mark_paused(self, game: str, paused: bool) -> None:
        """The guard's pause flag."""
        ...

    def publish(self, partial_state: StateUpdate) -> None:
        """Push an update to every client."""
        ...

    def save_config(self, cfg: Config) -> None:
        """Write the agent's config file and use it from now on."""
        ...

    def check_scale(self, game: str, settings: Settings) -> str | None:
        """The load guard's verdict (None = allowed)."""
        ...

    def event(
        self, kind: str, game: str | None, message: str, data: JSONObject | None = None
    ) -> None:
        """Record and push an event."""
        ...

    def now(self) -> float:
        """Wall-clock time."""
        ...
