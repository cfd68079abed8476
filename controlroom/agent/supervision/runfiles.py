"""Reading what a trainer leaves in its run dir: metrics.jsonl, latest.json, trainer.log.

The metrics file is tailed by (file identity, offset), so a tick costs a few stats and reads
only new bytes. The built-in trainer rotates metrics.jsonl to metrics.1.jsonl and
metrics.2.jsonl (docs/trainer-contract.md); the tail follows a rotation like `tail -F`:
it finishes the segment it was in under its new name, then goes on to the newer ones, so no
line is lost or read twice as long as a poll comes before two more rotations.
A trainer that writes no metrics at all (a bring-your-own one) simply has none.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path

import msgspec

from controlroom.protocol import Checkpoint, JSONObject

METRICS_FILE = "metrics.jsonl"
HISTORY_FILE = "metrics.history.jsonl"  # the trainer's thinned long view (metrics.HISTORY_NAME)
LOG_FILE = "trainer.log"
LATEST_FILE = "checkpoints/latest.json"
TAIL_BYTES = 256 * 1024
RETURN_HISTORY = 100
OLD_SEGMENTS = 2  # metrics.1.jsonl, metrics.2.jsonl: the trainer's metrics.OLD_SEGMENTS
READ_CAP = 4 * TAIL_BYTES  # most bytes one poll reads; the rest waits for the next tick

LineSink = Callable[[JSONObject], None]  # a trainer's line, parsed, as it wrote it
Ident = tuple[int, int]  # (st_dev, st_ino): which file, whatever its name now

# metrics.jsonl key -> GameState.metrics key (docs/trainer-contract.md).
METRIC_KEYS = {
    "global_step": "global_step",
    "charts/episodes": "episodes",
    "charts/episodes_per_hour": "episodes_per_hour",
    "charts/SPS": "sps",
    "settings/world_size": "world_size",
    "charts/episodic_return_mean": "return_mean",
    "charts/episodic_return_min": "return_min",
    "charts/episodic_return_max": "return_max",
    "time": "time",
    "sys/rss_bytes": "rss",  # the tune's host RAM per env (agent/policy/tune.py)
}


class MetricsTail:
    """Follows one metrics.jsonl across rotations, keeping the newest figures."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.metrics: JSONObject | None = None  # GameState.metrics: the trainer's figures
        self.returns: deque[float] = deque(maxlen=RETURN_HISTORY)
        self.last_line_at: float | None = None  # wall time of the newest line read
        self.last_kind: str | None = None
        self.last_exit_reason: str | None = None
        self.checkpoints_seen = 0
        self._partial = b""
        self._ident: Ident | None = None  # the segment `offset` is in
        self.on_line: LineSink | None = None  # also hands each parsed line on (history.py)

    def segments(self) -> list[tuple[Path, os.stat_result]]:
        """The run's segments that exist, oldest first; metrics.jsonl last when present."""
        names = [
            self.path.with_name(f"{self.path.stem}.{i}{self.path.suffix}")
            for i in range(OLD_SEGMENTS, 0, -1)
        ] + [self.path]
        found = []
        for name in names:
            with contextlib.suppress(OSError):
                found.append((name, os.stat(name)))
        return found

    def start_at_end(self) -> None:
        """Skip what earlier runs wrote, but load the newest figures from the last
        TAIL_BYTES, reaching into the previous segment when the current one is short."""
        chain = self.segments()
        self._ident, self.offset, self._partial = None, 0, b""
        want = TAIL_BYTES
        for _path, st in reversed(chain):
            self._ident, self.offset = _ident(st), max(0, st.st_size - want)
            want -= st.st_size
            if want <= 0:
                break
        self.poll()
        self.last_line_at = None
        self.last_kind = self.last_exit_reason = None
        self.checkpoints_seen = 0

    def poll(self) -> int:
        """Read lines appended since the last poll; how many complete lines were read."""
        lines, budget, races = 0, READ_CAP, 0
        while budget > 0 and races < 3:
            chain = self._stable_segments()
            if not chain:
                break
            here = self._locate(chain)
            path, st = chain[here]
            if st.st_size < self.offset:  # truncated in place: start it over
                self.offset, self._partial = 0, b""
            if self.offset < st.st_size:
                data = _read_at(
                    path, _ident(st), self.offset, min(st.st_size - self.offset, budget)
                )
                if not data:  # renamed (or cut) between the stat and the read
                    races += 1
                    continue
                budget -= len(data)
                lines += self._feed(data)
            elif here < len(chain) - 1:  # finished a rotated segment: on to the newer one
                self._ident, self.offset, self._partial = _ident(chain[here + 1][1]), 0, b""
            else:
                break
        return lines

    def _stable_segments(self) -> list[tuple[Path, os.stat_result]]:
        """segments(), listed until two listings agree: one taken while the trainer was
        between its renames can lack a segment or hold a stale one, and would make the
        tail skip a segment or start one over."""
        chain = self.segments()
        for _ in range(5):
            again = self.segments()
            if [_ident(st) for _p, st in again] == [_ident(st) for _p, st in chain]:
                return again
            chain = again
        return chain

    def _locate(self, chain: list[tuple[Path, os.stat_result]]) -> int:
        """Where our segment is now. Unknown yet: the current file at `offset`. Gone
        (rotated out, or the run dir replaced): the oldest segment left, from its start."""
        for i, (_path, st) in enumerate(chain):
            if _ident(st) == self._ident:
                return i
        here = len(chain) - 1 if self._ident is None else 0
        if self._ident is not None:
            self.offset, self._partial = 0, b""
        self._ident = _ident(chain[here][1])
        return here

    def _feed(self, data: bytes) -> int:
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
        if self.on_line is not None:
            self.on_line(obj)

    def _merge(self, obj: JSONObject) -> None:
        found = {
            out: obj[key]
            for key, out in METRIC_KEYS.items()
            if isinstance(obj.get(key), int | float)
        }
        if not found:
            return
        self.metrics = {**(self.metrics or {}), **found}
        if obj.get("kind") == "update" and "return_mean" in found:
            self.returns.append(float(found["return_mean"]))


def read_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest checkpoint (time, global_step, episodes, file), or None when there is
    none or its latest.json is not one."""
    try:
        return msgspec.json.decode((run_dir / LATEST_FILE).read_bytes(), type=Checkpoint)
    except (OSError, msgspec.DecodeError):  # ValidationError is a DecodeError
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


def _ident(st: os.stat_result) -> Ident:
    return (st.st_dev, st.st_ino)


def _read_at(path: Path, ident: Ident, offset: int, size: int) -> bytes | None:
    """Up to size bytes at offset of the file at path, or None when path no longer names
    the file with that identity (a rotation between the stat and the open)."""
    try:
        with open(path, "rb") as fh:
            if _ident(os.fstat(fh.fileno())) != ident:
                return None
            fh.seek(offset)
            return fh.read(size)
    except OSError:
        return None


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
