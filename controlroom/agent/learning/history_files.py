"""A run's learning history rebuilt from what its trainer left on disk.

The trainer's files are the one record of the curve (docs/trainer-contract.md): the
thinned long view metrics.history.jsonl and the segments metrics.2/.1/.jsonl. Rebuilding
from them at agent start (rather than keeping a second copy in the agent's store) covers
what a trainer wrote while no agent ran, and a resumed trainer appends to the same files.
Marks of the agent's own events come from its store (learning.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from controlroom.agent.learning.history import History, number
from controlroom.agent.supervision.runfiles import HISTORY_FILE, METRICS_FILE, OLD_SEGMENTS
from controlroom.protocol import JSONObject

# A line that is neither an update nor a start line is skipped before it is parsed:
# heartbeats are most of a file.
_WANTED: tuple[bytes, ...] = (b'"kind": "update"', b'"kind": "start"', b'"kind":"update"')
_WANTED += (b'"kind":"start"', b'"kind": "evaluation"', b'"kind":"evaluation"')
# The agent's own file in a run dir: one line per evaluation (agent/evaluation/), read
# with the trainer's metrics so the scores survive an agent restart.
EVAL_FILE = "evaluations.jsonl"
MAX_FILE_BYTES = 64 << 20  # the trainer keeps each far below; a foreign giant is cut


def run_files(run_dir: Path) -> list[Path]:
    """The files a run's history is read from, oldest first (those that exist)."""
    metrics = run_dir / METRICS_FILE
    segments = [
        metrics.with_name(f"{metrics.stem}.{i}{metrics.suffix}") for i in range(OLD_SEGMENTS, 0, -1)
    ]
    files = (run_dir / HISTORY_FILE, *segments, metrics, run_dir / EVAL_FILE)
    return [p for p in files if p.is_file()]


def signature(run_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when any of the run's files does (name, size, mtime): a cache key."""
    out = []
    for path in run_files(run_dir):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def read_lines(run_dir: Path) -> list[JSONObject]:
    """Every update and start line of the run, in time order, each once."""
    seen: dict[float, JSONObject] = {}
    for path in run_files(run_dir):
        for obj in _lines(path):
            seen.setdefault(float(obj["time"]), obj)
    return [seen[t] for t in sorted(seen)]


def rebuild(run_dir: Path) -> History:
    """A History of the run."""
    history = History()
    for obj in read_lines(run_dir):
        history.add_line(obj)
    return history


def _lines(path: Path) -> list[JSONObject]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES)
    except OSError:  # rotated away between the listing and the open: the next one has it
        return []
    out = []
    for raw in data.splitlines():
        if not any(w in raw for w in _WANTED):
            continue
        try:
            obj = json.loads(raw)
        except ValueError:  # a torn last line, or a foreign one
            continue
        if isinstance(obj, dict) and number(obj.get("time")) is not None:
            out.append(obj)
    return out
