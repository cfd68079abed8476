"""`Evaluations`: the agent's evaluations of its games' policies, bounded.

At most MAX_AT_ONCE evaluator processes run at once on the host and one per game: a
second request for a game that is being evaluated waits for that one and gets its
result, it does not start another (a TUI and a script asking together cost one).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.evaluation import runner
from controlroom.agent.launch import check_game
from controlroom.config import Config

log = logging.getLogger(__name__)
MAX_AT_ONCE = 2


class EvalHost(Protocol):
    """What of the agent an evaluation needs (the daemon's Agent is one)."""

    config: Config

    def run_dir(self, game: str) -> Path:
        """Where a game's trainer writes."""
        ...


class Evaluations:
    """Runs evaluations for one agent."""

    def __init__(self, host: EvalHost) -> None:
        self.host = host
        self.slots = asyncio.Semaphore(MAX_AT_ONCE)
        self.running: dict[tuple[str, str, int, str], asyncio.Task[protocol.Evaluation]] = {}

    def run_dir(self, game: str) -> Path:
        """The game's run dir, when it can be evaluated; OpError saying why not."""
        check_game(game)
        if self.host.config.trainer.command:
            raise OpError(
                "invalid",
                "this host trains with its own `command`: evaluation reads the built-in "
                "trainer's checkpoints",
            )
        run_dir = self.host.run_dir(game)
        if not runner.has_checkpoint(run_dir):
            raise OpError(
                "not_found",
                f"{game} has no checkpoint on this host yet: its trainer writes one every "
                "checkpoint_interval_s once it runs",
            )
        return run_dir

    async def evaluate(self, args: protocol.Evaluate) -> protocol.Evaluation:
        """Evaluate a game's policy (the `evaluate` op), sharing a run already going."""
        run_dir = self.run_dir(args.game)
        key = (args.game, args.checkpoint, args.episodes, args.device)
        task = self.running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._run(run_dir, args))
            self.running[key] = task
            task.add_done_callback(lambda _: self.running.pop(key, None))
        # A client that goes away cancels its wait, not the run others may share.
        return await asyncio.shield(task)

    async def _run(self, run_dir: Path, args: protocol.Evaluate) -> protocol.Evaluation:
        async with self.slots:
            out = await runner.run_evaluator(runner.evaluator_argv(run_dir, args), args.device)
        result = runner.read_result(out)
        log.info(
            "%s evaluated: mean %.2f over %d episodes", args.game, result.mean, result.episodes
        )
        return result

    async def close(self) -> None:
        """End every evaluation (the agent is stopping): their processes are killed."""
        for task in list(self.running.values()):
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)
