"""Watch streams: one evaluator per watcher playing one episode, its frames relayed.

The evaluator (--watch-fps) writes its screen as PNG lines to its stdout at a steady
rate; a reader task keeps the newest few in memory and the `watch` op hands the newest
one after the watcher's cursor. Bounded: at most MAX_STREAMS at once on the host, RING
frames each, and a stream nobody polls for IDLE_S is ended with its process (a TUI that
died without saying so costs nothing for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.evaluation import runner

log = logging.getLogger(__name__)
MAX_STREAMS = 2
RING = 8  # frames kept per stream: the watcher shows only the newest anyway
IDLE_S = 15.0  # a stream not polled this long is ended
KEEP_DONE_S = 60.0  # a finished stream answers (its score) this long


@dataclass
class Stream:
    """One watcher's episode."""

    game: str
    proc: asyncio.subprocess.Process
    frames: deque[protocol.WatchFrame] = field(default_factory=lambda: deque(maxlen=RING))
    polled: float = field(default_factory=time.monotonic)
    done: bool = False
    score: float | None = None
    error: str | None = None
    ended: float = 0.0
    reader: asyncio.Task[None] | None = None

    def answer(self, name: str, after: int) -> protocol.WatchFrames:
        """The newest frame after the cursor, and how the episode stands."""
        self.polled = time.monotonic()
        newest = [self.frames[-1]] if self.frames and self.frames[-1].i > after else []
        return protocol.WatchFrames(
            stream=name,
            fps=protocol.WATCH_FPS,
            frames=newest,
            done=self.done,
            score=self.score,
            error=self.error,
        )

    async def read(self) -> None:
        """Take the evaluator's lines until it ends."""
        assert self.proc.stdout is not None
        try:
            async for raw in self.proc.stdout:
                self._take(raw)
            rc = await self.proc.wait()
            if rc != 0 and self.error is None:
                err = await self.proc.stderr.read() if self.proc.stderr else b""
                self.error = runner.last_line(err) or f"the evaluator exited {rc}"
        except (OSError, ValueError) as exc:  # a line past the reader's limit
            self.error = f"the watch stream broke: {exc}"
            _kill(self.proc)
        finally:
            self.done, self.ended = True, time.monotonic()

    def _take(self, raw: bytes) -> None:
        try:
            line = json.loads(raw)
        except ValueError:
            return
        if "frame" in line:
            f = line["frame"]
            self.frames.append(
                protocol.WatchFrame(i=f["i"], width=f["w"], height=f["h"], png=f["png"])
            )
        elif "episode" in line:
            self.score = float(line["episode"]["score"])


class Watches:
    """Every watch stream of one agent."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}

    async def watch(self, run_dir: Path, args: protocol.Watch) -> protocol.WatchFrames:
        """The `watch` op: start, poll or stop a stream."""
        if not args.stream:
            return await self._start(run_dir, args.game)
        s = self.streams.get(args.stream)
        if s is None or s.game != args.game:
            raise OpError("not_found", f"no watch stream {args.stream!r} of {args.game} (ended?)")
        if args.stop:
            self._end(args.stream)
            return protocol.WatchFrames(stream=args.stream, fps=protocol.WATCH_FPS, done=True)
        return s.answer(args.stream, args.after)

    async def _start(self, run_dir: Path, game: str) -> protocol.WatchFrames:
        self.reap()
        if sum(not s.done for s in self.streams.values()) >= MAX_STREAMS:
            raise OpError("refused", f"{MAX_STREAMS} watch streams run already; close one first")
        asked = protocol.Evaluate(game=game, episodes=1)
        argv = runner.evaluator_argv(run_dir, asked, "--watch-fps", f"{protocol.WATCH_FPS:g}")
        proc = await runner.start_evaluator(argv, asked.device)
        name = secrets.token_hex(8)
        s = Stream(game, proc)
        s.reader = asyncio.ensure_future(s.read())
        self.streams[name] = s
        return s.answer(name, -1)

    def reap(self) -> None:
        """End streams nobody polls; forget finished ones after a while."""
        now = time.monotonic()
        for name, s in list(self.streams.items()):
            if not s.done and now - s.polled > IDLE_S:
                log.info("watch stream of %s not polled for %.0f s: ending it", s.game, IDLE_S)
                self._end(name)
            elif s.done and now - s.ended > KEEP_DONE_S:
                self.streams.pop(name, None)

    def _end(self, name: str) -> None:
        s = self.streams.pop(name, None)
        if s is not None:
            _kill(s.proc)

    async def close(self) -> None:
        """End every stream (the agent is stopping)."""
        streams = list(self.streams.values())
        self.streams.clear()
        for s in streams:
            _kill(s.proc)
        await asyncio.gather(*(s.reader for s in streams if s.reader), return_exceptions=True)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
