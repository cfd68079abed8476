"""One game as the supervisor sees it: wanted settings, its process, its restart history."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from controlroom.agent.supervision.job import job_pids
from controlroom.agent.supervision.process import TrainerProc
from controlroom.agent.supervision.runfiles import METRICS_FILE, MetricsTail
from controlroom.config import Settings
from controlroom.gpus import world_size
from controlroom.protocol import (
    Checkpoint,
    Diagnosis,
    GameState,
    GameStatus,
    JobSpan,
    Threads,
)
from controlroom.span import Span, node_ranks


@dataclass
class GameRun:
    """Wanted state plus everything observed about the game's current trainer."""

    name: str
    settings: Settings
    run_dir: Path
    wanted: bool = True
    added_at: float = field(default_factory=time.time)
    paused: bool = False
    state: str = "stopped"
    proc: TrainerProc | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    next_restart_at: float | None = None
    crash_times: deque[float] = field(default_factory=deque)
    consecutive: int = 0  # crashes since the last stable period; sets the backoff
    stop_deadline: float | None = None
    stopping_for: str | None = None  # "stop" | "hung" | "restart"
    last_activity: float = 0.0
    lines_this_run: int = 0
    checkpoint: Checkpoint | None = None
    checkpoint_mtime: float = 0.0
    gpu_memory_used: int | None = None
    # Progress marks, set when a trainer starts or is adopted: an exit with no newer
    # checkpoint and no step beyond the best ever seen made no progress (a crash-loop
    # candidate); one that made progress was working and only got killed.
    best_step: float = 0.0
    step_mark: float = 0.0
    checkpoint_mark: float = 0.0
    log_offset: int | None = None  # trainer.log's size when we started it
    # The GPUs its trainer was placed on (CUDA_VISIBLE_DEVICES); kept in the store so a
    # restart or a reboot prefers them. Empty: not placed (no GPU on the host).
    gpus: list[int] = field(default_factory=list)
    # Why it waits to start (the GPUs it needs are not all on the host); None: it does not.
    held_for: str | None = None
    held_by: str = "the GPUs"  # what it waits for: "the GPUs", "node 0 at ADDR:PORT"
    # It crashed and then had to wait: its start when the wait ends is still a restart.
    restart_owed: bool = False
    # What looks wrong in its learning curve (learning.py sets it; a reading, not a state).
    diagnosis: list[Diagnosis] = field(default_factory=list)  # learning.Learning sets it
    last_eval: float | None = None  # set from its history by Learning.sync
    threads: Threads | None = None  # its trainer's threads, set at its start or adoption
    tail: MetricsTail = field(init=False)

    def __post_init__(self) -> None:
        self.tail = MetricsTail(self.run_dir / METRICS_FILE)

    @property
    def gpus_held(self) -> bool:
        """Whether what it waits for (held_for) is its GPUs."""
        return self.held_by == "the GPUs"

    @property
    def busy(self) -> bool:
        """Whether its trainer runs or is due to (wanted, not paused, not given up on):
        what takes a share of the host's cores."""
        waits = self.wanted and not self.paused and self.state not in ("done", "crash_loop")
        return self.proc is not None or waits

    @property
    def builtin(self) -> bool:
        """Whether the built-in trainer (which keeps the whole contract) runs it."""
        return not self.settings.get("command")

    def step_now(self) -> tuple[float, float]:
        """(newest checkpoint's global_step, newest metrics global_step), 0 if unknown."""
        checkpoint = _finite(self.checkpoint.global_step) if self.checkpoint else 0.0
        return (checkpoint, _finite((self.tail.metrics or {}).get("global_step")))

    def mark_progress(self) -> None:
        """Remember where a starting trainer begins."""
        checkpoint, step = self.step_now()
        self.best_step = max(self.best_step, step, checkpoint)
        self.step_mark, self.checkpoint_mark = self.best_step, checkpoint

    def progressed(self) -> bool:
        """Whether the trainer since its start wrote a newer checkpoint or went beyond
        the best step seen before it (keeps that best step)."""
        checkpoint, step = self.step_now()
        moved = checkpoint > self.checkpoint_mark or step > self.step_mark
        self.best_step = max(self.best_step, step, checkpoint)
        return moved

    @property
    def world_size(self) -> int:
        """Ranks in its job: what the agent launches for the built-in trainer (the `gpus`
        setting); for a command of the host's own, what it reports, else 1."""
        if self.builtin:
            return world_size(self.settings)
        reported = (self.tail.metrics or {}).get("world_size", 1)
        return max(1, int(reported))

    @property
    def span(self) -> Span:
        """Where its job runs beyond this host (one host: Span())."""
        return Span.of(self.settings) if self.builtin else Span()

    @property
    def under_torchrun(self) -> bool:
        """Whether its trainer is a torchrun job (several ranks, or a part of a job over
        several hosts), whose exit code is torchrun's, not a rank's."""
        return self.world_size > 1 or self.span.spans

    @property
    def writes_metrics(self) -> bool:
        """Whether its run dir gets the job's metrics: not on a node other than 0 of a job
        over several hosts, whose rank 0 writes them on node 0."""
        return self.span.hosts_store

    def job_span(self) -> JobSpan | None:
        """This host's part of a job over several hosts, for the GameState."""
        span = self.span
        if not span.spans:
            return None
        return JobSpan(
            nodes=span.nodes,
            node_rank=span.node_rank,
            ranks=list(node_ranks(span.node_rank, self.world_size)),
            world_size=span.nodes * self.world_size,
            rendezvous=span.rendezvous,
            job_id=span.job_id,
        )

    @property
    def pid(self) -> int | None:
        """The trainer's pid while one runs."""
        return self.proc.pid if self.proc else None

    def pids(self) -> list[int]:
        """Its running processes whose GPU memory is its own: the trainer, or torchrun and
        the job's ranks."""
        if self.pid is None:
            return []
        return job_pids(self.pid) if self.under_torchrun else [self.pid]

    def to_state(self) -> GameState:
        """The protocol's GameState (a fresh one: a caller may keep or change it)."""
        s = self.settings
        return GameState(
            game=self.name,
            env_id=s.get("env_id"),
            wanted=self.wanted,
            state=GameStatus(self.state),
            settings={k: v for k, v in s.items() if k != "command"},
            custom_command=bool(s.get("command")),
            target_episodes=s.get("target_episodes"),
            pid=self.pid,
            started_at=self.started_at,
            restarts=self.restarts,
            last_exit=self.last_exit,
            next_restart_at=self.next_restart_at,
            checkpoint=self.checkpoint,
            metrics=self.tail.metrics,
            return_history=list(self.tail.returns),
            gpu_memory_used=self.gpu_memory_used,
            added_at=self.added_at,
            gpus=list(self.gpus),
            world_size=self.world_size,
            diagnosis=list(self.diagnosis),
            last_eval=self.last_eval,
            span=self.job_span(),
            threads=self.threads,
        )


def _finite(value: object) -> float:
    """A step figure as a float; 0 when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def describe_exit(code: int | None) -> str:
    """'exit code 1', 'killed by SIGKILL' or 'exited (code unknown)'."""
    import signal

    if code is None:
        return "exited (code unknown: adopted process)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
