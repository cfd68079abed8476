"""Reading what a trainer leaves in its run dir: metrics.jsonl, latest.json, trainer.log.

The metrics file is tailed by offset, so a tick costs one stat and reads only new bytes.
A trainer that writes no metrics at all (a bring-your-own one) simply has none.
"""

from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
LOG_FILE = "trainer.log"
LATEST_FILE = "checkpoints/latest.json"
TAIL_BYTES = 256 * 1024
RETURN_HISTORY = 100

# metrics.jsonl key -> GameState.metrics key (docs/trainer-contract.md).
METRIC_KEYS = {
    "global_step": "global_step", "charts/episodes": "episodes",
    "charts/episodes_per_hour": "episodes_per_hour", "charts/SPS": "sps",
    "charts/episodic_return_mean": "return_mean", "charts/episodic_return_min": "return_min",
    "charts/episodic_return_max": "return_max", "time": "time",
}  # fmt: skip


class MetricsTail:
    """Follows one metrics.jsonl from a byte offset, keeping the newest figures."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.metrics: dict[str, Any] | None = None
        self.returns: deque[float] = deque(maxlen=RETURN_HISTORY)
        self.last_line_at: float | None = None  # wall time of the newest line read
        self.last_kind: str | None = None
        self.last_exit_reason: str | None = None
        self.checkpoints_seen = 0
        self._partial = b""

    def start_at_end(self) -> None:
        """Skip what earlier runs wrote, but load the newest figures from the tail."""
        size = _size(self.path)
        self.offset = max(0, size - TAIL_BYTES)
        self.poll()
        self.last_line_at = None
        self.last_kind = self.last_exit_reason = None
        self.checkpoints_seen = 0

    def poll(self) -> int:
        """Read lines appended since the last poll; how many complete lines were read."""
        size = _size(self.path)
        if size < self.offset:  # truncated or replaced: start over
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return 0
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(min(size - self.offset, 4 * TAIL_BYTES))
        self.offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._take(line)
        return len(lines)

    def _take(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return  # a torn or foreign line: the contract is best effort for BYO trainers
        if not isinstance(obj, dict):
            return
        self.last_kind = str(obj.get("kind", ""))
        t = obj.get("time")
        self.last_line_at = float(t) if isinstance(t, int | float) else None
        if self.last_kind == "exit":
            self.last_exit_reason = str(obj.get("reason", ""))
        if self.last_kind == "checkpoint":
            self.checkpoints_seen += 1
        self._merge(obj)

    def _merge(self, obj: dict[str, Any]) -> None:
        found = {out: obj[key] for key, out in METRIC_KEYS.items()
                 if isinstance(obj.get(key), int | float)}  # fmt: skip
        if not found:
            return
        self.metrics = {**(self.metrics or {}), **found}
        if obj.get("kind") == "update" and "return_mean" in found:
            self.returns.append(float(found["return_mean"]))


def read_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The newest checkpoint's {time, global_step, episodes}, or None."""
    try:
        meta = json.loads((run_dir / LATEST_FILE).read_text())
        return {k: meta[k] for k in ("time", "global_step", "episodes")} | {
            "file": meta.get("file")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def checkpoint_mtime(run_dir: Path) -> float:
    """When latest.json last changed (0 when absent): a cheap change check."""
    try:
        return (run_dir / LATEST_FILE).stat().st_mtime
    except OSError:
        return 0.0


def tail_lines(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a text file, reading at most TAIL_BYTES."""
    size = _size(path)
    if not size:
        return []
    with open(path, "rb") as fh:
        fh.seek(max(0, size - TAIL_BYTES))
        data = fh.read()
    text = data.decode("utf-8", "replace").splitlines()
    return text[-lines:] if lines > 0 else []


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
