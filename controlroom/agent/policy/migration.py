"""Snapshots for migration and rollback: the log's "7 GB full backup" and
"rollback_migration.sh", per game and in one action.

A snapshot is state_dir/snapshots/<game>/<stamp>/ holding a copy of the run's
checkpoints/ and meta.json (the settings and progress it was taken with). It is written
under a temporary name and renamed, so a crash mid-copy never leaves a snapshot that
looks whole. Restoring swaps the run's checkpoints/ for the snapshot's copy the same way.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

CHECKPOINTS = "checkpoints"
META = "meta.json"


def root(state_dir: Path, game: str) -> Path:
    """Where a game's snapshots live."""
    return state_dir / "snapshots" / game


def _stamp(now: float) -> str:
    ms = int(now * 1000) % 1000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{ms:03d}"


def take(state_dir: Path, run_dir: Path, game: str, meta: dict[str, Any], now: float) -> Path:
    """Copy the run's checkpoints and `meta` (settings, progress, reason) into a new
    snapshot; returns its folder."""
    base = root(state_dir, game)
    base.mkdir(parents=True, exist_ok=True)
    name, n = _stamp(now), 1
    while (base / name).exists():  # two snapshots in the same millisecond
        name, n = f"{_stamp(now)}-{n}", n + 1
    tmp = base / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    src = run_dir / CHECKPOINTS
    if src.is_dir():
        shutil.copytree(src, tmp / CHECKPOINTS, ignore=shutil.ignore_patterns(".*"))
    else:
        (tmp / CHECKPOINTS).mkdir(parents=True)
    (tmp / META).write_text(json.dumps({"game": game, "time": now, **meta}, indent=1))
    tmp.rename(base / name)
    return base / name


def snapshots(state_dir: Path, game: str) -> list[Path]:
    """A game's snapshots, newest first (temporary ones are never listed)."""
    base = root(state_dir, game)
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: p.name, reverse=True)


def meta(snapshot: Path) -> dict[str, Any]:
    """The settings and progress a snapshot was taken with."""
    data: dict[str, Any] = json.loads((snapshot / META).read_text())
    return data


def restore(snapshot: Path, run_dir: Path) -> None:
    """Make the run's checkpoints exactly the snapshot's (the trainer must be stopped)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    incoming, outgoing = run_dir / ".checkpoints.restore", run_dir / ".checkpoints.old"
    for leftover in (incoming, outgoing):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(snapshot / CHECKPOINTS, incoming)
    current = run_dir / CHECKPOINTS
    if current.exists():
        current.rename(outgoing)
    incoming.rename(current)
    shutil.rmtree(outgoing, ignore_errors=True)


def prune(state_dir: Path, game: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` snapshots of a game; returns what went."""
    gone = snapshots(state_dir, game)[max(0, keep) :]
    for old in gone:
        shutil.rmtree(old, ignore_errors=True)
    return gone


def listing(state_dir: Path, game: str) -> list[dict[str, Any]]:
    """Snapshots as the wire shows them, newest first."""
    return [{"name": p.name, **meta(p)} for p in snapshots(state_dir, game)]
