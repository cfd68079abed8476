"""The policy engine as its action modules see it (host_actions, beside, trial, live_plan
and the policy ops): a Protocol, so none of them imports the engine that imports them.

A leaf of the policy package: it imports only the core's seam and plain state types.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from controlroom import protocol
from controlroom.agent.core import AgentCore
from controlroom.agent.policy import guard
from controlroom.agent.policy.queue import Queue
from controlroom.agent.policy.ramp import RampState
from controlroom.agent.policy.speeds import SpeedBook
from controlroom.agent.policy.tune_search import TuneBook, Window
from controlroom.agent.supervision import process
from controlroom.agent.supervision.runfiles import MetricsTail
from controlroom.config import Settings


@dataclass
class TrialTrainer:
    """The second trainer of a beside trial, as the engine watches it."""

    proc: process.TrainerProc
    tail: MetricsTail


@dataclass
class TuneRun:
    """The running tune rung's measure, in memory (an agent restart measures it afresh):
    the game's restarts when it began, and a window per running trainer."""

    game: str
    restarts: int
    windows: dict[str, Window]


class Engine(Protocol):
    """What the policy's action modules may read and call on the engine."""

    agent: AgentCore
    lock: asyncio.Lock
    ramp: RampState
    watch: guard.Watch
    queue: Queue
    trials: dict[str, protocol.AnyTrial]
    profile: str | None
    beside: dict[str, TrialTrainer]
    book: SpeedBook
    tune: TuneBook
    tune_run: TuneRun | None

    def steps(self) -> list[list[str]]:
        """The ramp's steps from the current config."""
        ...

    def event(
        self, kind: str, game: str | None, message: str, data: protocol.JSONObject | None = None
    ) -> None:
        """Record and push an event."""
        ...

    def refuse(self, game: str | None, verdict: str) -> None:
        """Record a guard refusal once."""
        ...

    def save(self) -> None:
        """Persist the policy state."""
        ...

    def check_scale(self, game: str, settings: Settings) -> str | None:
        """The guard's verdict on running `game` with `settings`."""
        ...

    def with_trials(self, load: guard.Load) -> guard.Load:
        """The load with the beside trials' second trainers counted in."""
        ...

    def trials_running(self) -> set[str]:
        """Games in a trial now."""
        ...

    def plan(self, now: float, fresh: bool = False) -> protocol.Plan:
        """The plan."""
        ...

    def publish(self, now: float, force: bool = False) -> None:
        """Push the policy state when it changed."""
        ...

    async def start_trial(
        self,
        game: str,
        changes: Settings,
        *,
        minutes: float,
        keep: bool | None = None,
        mode: str = "instead",
    ) -> protocol.AnyTrial:
        """Start a trial in either mode."""
        ...

    async def converge_ramp(self) -> None:
        """Run exactly the current ramp step's games."""
        ...
