"""`Evaluations`: the agent's evaluations of its games' policies, bounded.

At most MAX_AT_ONCE evaluator processes run at once on the host, and the same request
twice shares one run (a TUI and a script asking together cost one). Every result is
kept: a line in the run dir's evaluations.jsonl (read back with the trainer's metrics
when the agent restarts) and a row of the game's learning history, whose newest score
the game's state carries (`last_eval`).

Periodic evaluation: `tick` starts one for each running game with a checkpoint whose
eval_every_minutes (its own, else the applied profile's, else [evaluation]'s:
Config.eval_every_minutes) is over 0 and whose last evaluation (or, at first, the
moment the agent first saw it running) is that old; it runs in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.evaluation import runner
from controlroom.agent.evaluation.watch import Watches
from controlroom.agent.learning.history import EVAL_KIND
from controlroom.agent.learning.history_files import EVAL_FILE
from controlroom.agent.supervision.launch import check_game
from controlroom.config import Config

if TYPE_CHECKING:
    from controlroom.agent.learning.histories import Learning
    from controlroom.agent.supervision.supervisor import Supervisor

log = logging.getLogger(__name__)
MAX_AT_ONCE = 2
VIDEOS = "videos"  # a run dir's recordings
KEEP_VIDEOS = 20  # newest kept per game: ~1 MB a minute of Atari
EVAL_TICK_S = 5.0  # how often the agent looks for a periodic evaluation that is due


class EvalHost(Protocol):
    """What of the agent an evaluation needs (the daemon's Agent is one)."""

    config: Config
    supervisor: Supervisor
    learning: Learning
    dirty: set[str]

    def run_dir(self, game: str) -> Path:
        """Where a game's trainer writes."""
        ...

    def applied_profile(self) -> str | None:
        """The profile last applied on the host (None: none, or the ramp since)."""
        ...


class Evaluations:
    """Runs evaluations for one agent."""

    def __init__(self, host: EvalHost) -> None:
        self.host = host
        self.slots = asyncio.Semaphore(MAX_AT_ONCE)
        self.running: dict[tuple[str, str, int, str], asyncio.Task[protocol.Evaluation]] = {}
        self.due_from: dict[str, float] = {}  # game -> when its last periodic one started
        self.background: set[asyncio.Task[protocol.Evaluation]] = set()
        self.watches = Watches()

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

    async def record_video(self, args: protocol.Record) -> protocol.Evaluation:
        """Record the policy playing (the `record` op): an MP4 in the run dir's videos/,
        named for its game, step and mean score; the newest KEEP_VIDEOS are kept."""
        run_dir = self.run_dir(args.game)
        videos = run_dir / VIDEOS
        videos.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        part = videos / f".recording-{stamp}-{os.getpid()}.mp4"
        asked = protocol.Evaluate(
            game=args.game, episodes=args.episodes, checkpoint=args.checkpoint
        )
        try:
            r = await self._run(run_dir, asked, "--record", str(part))
            final = videos / f"{args.game}-step{r.global_step}-mean{r.mean:g}-{stamp}.mp4"
            part.replace(final)
        finally:
            part.unlink(missing_ok=True)
        r.video = str(final)
        _prune(videos)
        return r

    async def _run(
        self, run_dir: Path, args: protocol.Evaluate, *extra: str
    ) -> protocol.Evaluation:
        async with self.slots:
            argv = runner.evaluator_argv(run_dir, args, *extra)
            out = await runner.run_evaluator(argv, args.device)
        result = runner.read_result(out)
        log.info(
            "%s evaluated: mean %.2f over %d episodes", args.game, result.mean, result.episodes
        )
        self.keep(args.game, run_dir, result)
        return result

    def keep(self, game: str, run_dir: Path, r: protocol.Evaluation) -> None:
        """Keep a result: its line in the run dir, its row in the game's history."""
        line = {
            "kind": EVAL_KIND,
            # Now, not when the evaluator finished: the history takes only rows newer than
            # its newest, and the trainer's updates read since then are older than now.
            "time": time.time(),
            "global_step": r.global_step,
            "eval/mean": r.mean,
            "eval/median": r.median,
            "eval/min": r.min,
            "eval/max": r.max,
            "eval/episodes": r.episodes,
            "eval/human_normalized": r.human_normalized,
            "checkpoint": r.checkpoint,
            "policy": r.policy,
        }
        try:
            _append(run_dir / EVAL_FILE, json.dumps(line) + "\n")
        except OSError as exc:  # the score still shows until the agent restarts
            log.warning("%s: cannot keep its evaluation in %s: %s", game, run_dir, exc)
        self.host.learning.add_evaluation(game, line)
        self.host.dirty.add(game)

    def tick(self, now: float) -> None:
        """Start the periodic evaluations that are due (a pass of the agent's loop);
        end the watch streams nobody polls."""
        self.watches.reap()
        cfg, profile = self.host.config, self.host.applied_profile()
        if cfg.trainer.command:
            self.due_from.clear()
            return
        for name, g in self.host.supervisor.games.items():
            every_s = cfg.eval_every_minutes(name, profile) * 60
            if every_s <= 0:  # off: turned on later, it starts its count afresh
                self.due_from.pop(name, None)
                continue
            if g.state != protocol.GameStatus.RUNNING:
                continue
            since = self.due_from.setdefault(name, now)
            if now - since >= every_s and runner.has_checkpoint(self.host.run_dir(name)):
                self.due_from[name] = now
                self._start_periodic(name)

    def _start_periodic(self, game: str) -> None:
        args = protocol.Evaluate(game=game, episodes=self.host.config.evaluation.episodes)
        task = asyncio.ensure_future(self.evaluate(args))
        self.background.add(task)
        task.add_done_callback(self._periodic_done)

    def _periodic_done(self, task: asyncio.Task[protocol.Evaluation]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("periodic evaluation failed: %s", task.exception())

    async def watch(self, args: protocol.Watch) -> protocol.WatchFrames:
        """The `watch` op (watch.py): a stream of one episode's frames."""
        run_dir = self.run_dir(args.game) if not args.stream else self.host.run_dir(args.game)
        return await self.watches.watch(run_dir, args)

    async def close(self) -> None:
        """End every evaluation (the agent is stopping): their processes are killed."""
        await self.watches.close()
        tasks = [*self.running.values(), *self.background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _prune(videos: Path) -> None:
    """Delete all but the newest KEEP_VIDEOS recordings."""
    found = sorted(videos.glob("*.mp4"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in found[KEEP_VIDEOS:]:
        old.unlink(missing_ok=True)


def _append(path: Path, text: str) -> None:
    """One whole line appended (O_APPEND: a reader never sees half of it interleaved)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
