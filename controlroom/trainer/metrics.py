"""metrics.jsonl: one JSON object per line, flushed per line so readers can tail it.

The keys are the contract with the agent and the TUI; docs/trainer-contract.md lists them.

The file is bounded: at `segment_bytes` the current segment is renamed to metrics.1.jsonl
(metrics.1 to metrics.2; the oldest is dropped) and a new metrics.jsonl begins, so a run
holds at most three segments. Before a segment leaves, its start and exit lines and one
update line per HISTORY_GAP_S go to metrics.history.jsonl, which is halved (every other
update line dropped) whenever it outgrows HISTORY_BYTES: a long run's whole curve,
finer for recent hours than for old ones, in bounded space."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psutil
import torch

# Every line.
TIME = "time"
KIND = "kind"
GLOBAL_STEP = "global_step"
EPISODES = "charts/episodes"
# Values of KIND.
KIND_START, KIND_UPDATE, KIND_HEARTBEAT = "start", "update", "heartbeat"
KIND_CHECKPOINT, KIND_EXIT = "checkpoint", "exit"
# Update lines.
EPISODES_PER_HOUR = "charts/episodes_per_hour"
SPS = "charts/SPS"
RETURN_MEAN = "charts/episodic_return_mean"
RETURN_MIN = "charts/episodic_return_min"
RETURN_MAX = "charts/episodic_return_max"
LENGTH_MEAN = "charts/episodic_length_mean"
POLICY_LOSS = "losses/policy_loss"
VALUE_LOSS = "losses/value_loss"
ENTROPY = "losses/entropy"
APPROX_KL = "losses/approx_kl"
CLIPFRAC = "losses/clipfrac"
LEARNING_RATE = "charts/learning_rate"
RSS_BYTES = "sys/rss_bytes"
CUDA_ALLOCATED = "sys/cuda_allocated_bytes"
CUDA_RESERVED = "sys/cuda_reserved_bytes"
NUM_ENVS = "settings/num_envs"
MINIBATCH_SIZE = "settings/minibatch_size"
# Start and update lines: ranks in the job (num_envs and minibatch_size are per rank).
WORLD_SIZE = "settings/world_size"
# Start, checkpoint and exit lines.
SETTINGS, RESUMED_FROM, PID = "settings", "resumed_from", "pid"
PATH = "path"
REASON = "reason"
REASON_SIGNAL, REASON_BUDGET, REASON_ERROR = "signal", "budget", "error"

RETURN_WINDOW = 100
RATE_WINDOW_S = 600.0
# Rotation and history (see the module docstring).
SEGMENT_BYTES = 4 << 20
OLD_SEGMENTS = 2
HISTORY_NAME = "metrics.history.jsonl"
HISTORY_GAP_S = 60.0
HISTORY_BYTES = 4 << 20
_HISTORY_KINDS = (KIND_START, KIND_EXIT)  # always kept: where each trainer began and ended

log = logging.getLogger(__name__)


def segment_path(path: Path, index: int) -> Path:
    """metrics.jsonl for 0, metrics.<index>.jsonl for an older segment."""
    return path if index == 0 else path.with_name(f"{path.stem}.{index}{path.suffix}")


class MetricsWriter:
    """Thread-safe JSONL appender with bounded rotation; the heartbeat thread and the loop
    share it. A restarted trainer appends to the current segment."""

    def __init__(
        self,
        path: Path,
        segment_bytes: int = SEGMENT_BYTES,
        history_bytes: int = HISTORY_BYTES,
        history_gap_s: float = HISTORY_GAP_S,
    ) -> None:
        self.path, self.segment_bytes = path, segment_bytes
        self.history = History(path.with_name(HISTORY_NAME), history_bytes, history_gap_s)
        self._lock = threading.Lock()
        self.counters: dict[str, float | int] = {GLOBAL_STEP: 0, EPISODES: 0}
        self._fh, self._size = self._open()
        self._rotate_at = segment_bytes

    def _open(self) -> tuple[IO[bytes], int]:
        fh = open(self.path, "ab")  # noqa: SIM115  # held open for the process life
        size = os.fstat(fh.fileno()).st_size
        if size and not _ends_with_newline(self.path):
            fh.write(b"\n")  # a killed writer's torn line must not swallow our first one
            size += 1
        return fh, size

    def write(self, kind: str, **fields: Any) -> None:
        """Append one line with the common keys, flush it, rotate when the segment is full."""
        with self._lock:
            line = {TIME: time.time(), KIND: kind, **self.counters, **fields}
            data = (json.dumps(line, default=_jsonable) + "\n").encode()
            self._fh.write(data)
            self._fh.flush()
            self._size += len(data)
            if self._size >= self._rotate_at:
                self._rotate()

    def _rotate(self) -> None:
        self._fh.close()
        try:
            self.history.absorb(self.path)
            for i in range(OLD_SEGMENTS, 1, -1):
                if segment_path(self.path, i - 1).exists():
                    os.replace(segment_path(self.path, i - 1), segment_path(self.path, i))
            os.replace(self.path, segment_path(self.path, 1))
            self._rotate_at = self.segment_bytes
        except OSError as exc:
            # Keep training and writing; try again after another quarter segment.
            log.warning("cannot rotate %s: %s; will retry", self.path, exc)
            self._rotate_at = self._size + max(1, self.segment_bytes // 4)
        self._fh, self._size = self._open()

    def set_counters(self, global_step: int, episodes: int) -> None:
        """Update what every later line (heartbeats too) reports."""
        with self._lock:
            self.counters = {GLOBAL_STEP: global_step, EPISODES: episodes}

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


class NullWriter:
    """What ranks other than 0 of a job write: nothing (rank 0 speaks for the job)."""

    def write(self, kind: str, **fields: Any) -> None:
        """Drop the line."""

    def set_counters(self, global_step: int, episodes: int) -> None:
        """Nothing to count for."""

    def close(self) -> None:
        """Nothing to close."""


def _jsonable(value: Any) -> Any:
    return str(value)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class History:
    """metrics.history.jsonl: the thinned, bounded long history of a run."""

    def __init__(self, path: Path, max_bytes: int, gap_s: float) -> None:
        self.path, self.max_bytes, self.gap_s = path, max_bytes, gap_s

    def absorb(self, segment: Path) -> None:
        """Append a leaving segment's lines that the history wants, then bound the file.
        Lines not newer than the history's last one are skipped, so a rotation retried
        after a crash adds nothing twice."""
        last = self._last_time()
        kept, last_update = [], last
        for raw in segment.read_bytes().splitlines():
            obj = _parse(raw)
            t = obj.get(TIME) if obj else None
            if obj is None or not isinstance(t, int | float) or t <= last:
                continue
            if obj.get(KIND) in _HISTORY_KINDS:
                kept.append(raw)
            elif obj.get(KIND) == KIND_UPDATE and t - last_update >= self.gap_s:
                kept.append(raw)
                last_update = t
        if kept:
            with open(self.path, "ab") as fh:
                fh.write(b"".join(line + b"\n" for line in kept))
        if self.path.exists() and self.path.stat().st_size > self.max_bytes:
            self._halve()

    def _last_time(self) -> float:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 65536))
                tail = fh.read().splitlines()
        except OSError:
            return float("-inf")
        for raw in reversed(tail):
            obj = _parse(raw)
            if obj and isinstance(obj.get(TIME), int | float):
                return float(obj[TIME])
        return float("-inf")

    def _halve(self) -> None:
        """Drop every other update line; if start/exit lines alone still fill most of the
        budget (thousands of restarts), drop the oldest half of everything."""
        lines = self.path.read_bytes().splitlines()
        updates = 0
        kept = []
        for raw in lines:
            obj = _parse(raw)
            if obj and obj.get(KIND) == KIND_UPDATE:
                updates += 1
                if updates % 2 == 0:
                    continue
            kept.append(raw)
        if sum(len(x) + 1 for x in kept) > self.max_bytes * 3 // 4:
            kept = kept[len(kept) // 2 :]
        _atomic_lines(self.path, kept)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _atomic_lines(path: Path, lines: list[bytes]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"".join(line + b"\n" for line in lines))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


class RollingStats:
    """Returns and lengths of the last 100 real episodes, and an episodes/hour rate."""

    def __init__(self) -> None:
        self.returns: deque[float] = deque(maxlen=RETURN_WINDOW)
        self.lengths: deque[int] = deque(maxlen=RETURN_WINDOW)
        self._marks: deque[tuple[float, int]] = deque()

    def add(self, finished: list[tuple[float, int]]) -> None:
        """Record finished (return, length) pairs."""
        for ret, length in finished:
            self.returns.append(ret)
            self.lengths.append(length)

    def episodes_per_hour(self, episodes: int, now: float) -> float:
        """Rate over the last RATE_WINDOW_S seconds of this process's life."""
        self._marks.append((now, episodes))
        while len(self._marks) > 2 and now - self._marks[1][0] >= RATE_WINDOW_S:
            self._marks.popleft()
        t0, e0 = self._marks[0]
        return (episodes - e0) * 3600.0 / (now - t0) if now > t0 else 0.0

    def summary(self) -> dict[str, float]:
        """Mean/min/max return and mean length (NaN-free: empty windows are omitted)."""
        if not self.returns:
            return {}
        return {
            RETURN_MEAN: sum(self.returns) / len(self.returns),
            RETURN_MIN: min(self.returns),
            RETURN_MAX: max(self.returns),
            LENGTH_MEAN: sum(self.lengths) / len(self.lengths),
        }

    def state(self) -> dict[str, list[float] | list[int]]:
        """For the checkpoint."""
        return {"returns": list(self.returns), "lengths": list(self.lengths)}

    def restore(self, state: dict[str, Any]) -> None:
        """From a checkpoint."""
        self.returns.extend(float(x) for x in state.get("returns", []))
        self.lengths.extend(int(x) for x in state.get("lengths", []))


def system_stats(device: torch.device) -> dict[str, int]:
    """Process RSS, plus CUDA allocator figures when training on CUDA."""
    stats = {RSS_BYTES: psutil.Process().memory_info().rss}
    if device.type == "cuda":
        stats[CUDA_ALLOCATED] = torch.cuda.memory_allocated(device)
        stats[CUDA_RESERVED] = torch.cuda.memory_reserved(device)
    return stats


class Heartbeat:
    """A daemon thread writing a heartbeat line every interval, even mid-update, unless
    `held()` says the process is not making progress (rank 0 of a job stuck waiting for
    another rank: its silence is then the job's hang, as the agent should see it)."""

    def __init__(
        self,
        writer: MetricsWriter | NullWriter,
        interval: float,
        extra: Callable[[], dict[str, Any]],
        held: Callable[[], bool] = lambda: False,
    ) -> None:
        self._writer, self._interval, self._extra, self._held = writer, interval, extra, held
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Begin beating."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._held():
                self._writer.write(KIND_HEARTBEAT, **self._extra())

    def stop(self) -> None:
        """Stop and join."""
        self._stop.set()
        self._thread.join()


class TensorBoardMirror:
    """Copies numeric update metrics into TensorBoard event files."""

    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(log_dir))

    def write(self, step: int, values: dict[str, Any]) -> None:
        """One scalar per numeric key."""
        for key, value in values.items():
            if isinstance(value, int | float) and math.isfinite(value) and "/" in key:
                self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        """Flush and close."""
        self._tb.close()


def tensorboard_available() -> bool:
    """Whether the optional tensorboard package is importable."""
    return importlib.util.find_spec("tensorboard") is not None
