"""metrics.jsonl: one JSON object per line, flushed per line so readers can tail it.

The keys are the contract with the agent and the TUI; docs/trainer-contract.md lists them."""

from __future__ import annotations

import importlib.util
import json
import math
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
# Start, checkpoint and exit lines.
SETTINGS, RESUMED_FROM, PID = "settings", "resumed_from", "pid"
PATH = "path"
REASON = "reason"
REASON_SIGNAL, REASON_BUDGET, REASON_ERROR = "signal", "budget", "error"

RETURN_WINDOW = 100
RATE_WINDOW_S = 600.0


class MetricsWriter:
    """Thread-safe JSONL appender; the heartbeat thread and the loop share it."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115  # held open
        self._lock = threading.Lock()
        self.counters: dict[str, float | int] = {GLOBAL_STEP: 0, EPISODES: 0}

    def write(self, kind: str, **fields: Any) -> None:
        """Append one line with the common keys, then flush it."""
        with self._lock:
            line = {TIME: time.time(), KIND: kind, **self.counters, **fields}
            self._fh.write(json.dumps(line, default=_jsonable) + "\n")
            self._fh.flush()

    def set_counters(self, global_step: int, episodes: int) -> None:
        """Update what every later line (heartbeats too) reports."""
        with self._lock:
            self.counters = {GLOBAL_STEP: global_step, EPISODES: episodes}

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


def _jsonable(value: Any) -> Any:
    return str(value)


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
        return {RETURN_MEAN: sum(self.returns) / len(self.returns),
                RETURN_MIN: min(self.returns), RETURN_MAX: max(self.returns),
                LENGTH_MEAN: sum(self.lengths) / len(self.lengths)}

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
    """A daemon thread writing a heartbeat line every interval, even mid-update."""

    def __init__(self, writer: MetricsWriter, interval: float,
                 extra: Callable[[], dict[str, Any]]) -> None:
        self._writer, self._interval, self._extra = writer, interval, extra
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Begin beating."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
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
