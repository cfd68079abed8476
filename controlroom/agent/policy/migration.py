"""Snapshots for migration and rollback: the log's "7 GB full backup" and
"rollback_migration.sh", per game and in one action.

A snapshot is state_dir/snapshots/<game>/<stamp>/ holding a copy of the run's
checkpoints/ and meta.json (the settings and progress it was taken with). It is written
under a temporary name and renamed, so a crash mid-copy never leaves a snapshot that
looks whole. Restoring swaps the run's checkpoints/ for the snapshot's copy the same way.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import msgspec

from controlroom import protocol

CHECKPOINTS = "checkpoints"
META = "meta.json"


def root(state_dir: Path, game: str) -> Path:
    """Where a game's snapshots live."""
    return state_dir / "snapshots" / game


def _stamp(now: float) -> str:
    ms = int(now * 1000) % 1000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{ms:03d}"


def take(state_dir: Path, run_dir: Path, meta: protocol.SnapshotMeta) -> Path:
    """Copy the run's checkpoints and `meta` (game, time, reason, settings, progress)
    into a new snapshot of meta.game named for meta.time; returns its folder."""
    base = root(state_dir, meta.game)
    base.mkdir(parents=True, exist_ok=True)
    name, n = _stamp(meta.time), 1
    while (base / name).exists():  # two snapshots in the same millisecond
        name, n = f"{_stamp(meta.time)}-{n}", n + 1
    tmp = base / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    src = run_dir / CHECKPOINTS
    if src.is_dir():
        shutil.copytree(src, tmp / CHECKPOINTS, ignore=shutil.ignore_patterns(".*"))
    else:
        (tmp / CHECKPOINTS).mkdir(parents=True)
    (tmp / META).write_bytes(msgspec.json.format(msgspec.json.encode(meta), indent=1))
    tmp.rename(base / name)
    return base / name


def snapshots(state_dir: Path, game: str) -> list[Path]:
    """A game's snapshots, newest first (temporary ones are never listed)."""
    base = root(state_dir, game)
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: p.name, reverse=True)


def meta(snapshot: Path) -> protocol.SnapshotMeta:
    """The settings and progress a snapshot was taken with (a meta.json that is not
    one: msgspec.DecodeError)."""
    return msgspec.json.decode((snapshot / META).read_bytes(), type=protocol.SnapshotMeta)


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


def listing(state_dir: Path, game: str) -> list[protocol.SnapshotEntry]:
    """Snapshots as the wire shows them, newest first."""
    return [
        protocol.SnapshotEntry(name=p.name, **msgspec.structs.asdict(meta(p)))
        for p in snapshots(state_dir, game)
    ]
