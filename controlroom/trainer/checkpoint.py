"""Atomic, checksummed checkpoints: keep the newest K, fall back past a corrupt one.

Only a file's content condemns it (bad header, checksum or payload): it is renamed to
`*.corrupt`. A file that cannot be read (EIO, EMFILE, ENOSPC, EACCES, ...) may be fine a
moment later, so it is retried, then left where it is while an older one is tried."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

MAGIC = b"CRCKPT1\n"
_DIGEST_LEN = 64
_NAME = re.compile(r"^ckpt-(\d{12})\.pt$")
# Test hook: seconds to sleep between writing the temp file and renaming it, so a test can
# SIGKILL the trainer mid-write. Unset in normal use.
DELAY_ENV = "CONTROLROOM_TRAINER_CHECKPOINT_DELAY"


# A read that fails with an OSError is retried this many times, this far apart.
READ_ATTEMPTS = 3
READ_RETRY_S = 0.2


class CheckpointError(Exception):
    """A checkpoint file's content is truncated or corrupt: it can never load."""


class CheckpointUnreadable(Exception):
    """No checkpoint verified and at least one could not be read (an I/O error): starting
    fresh would throw away the progress it may hold once the disk answers again."""


def checkpoint_dir(run_dir: Path) -> Path:
    """Where a run's checkpoints live."""
    return run_dir / "checkpoints"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, delay_s: float = 0.0) -> None:
    """Write data so that path holds either the old or the new bytes, even after a crash
    or power loss: temp file in the same dir, fsync, rename, fsync the dir."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if delay_s:
        time.sleep(delay_s)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def encode(state: dict[str, Any]) -> bytes:
    """MAGIC + sha256 hex of the payload + newline + the torch.save payload."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode(data: bytes) -> dict[str, Any]:
    """Verify and load a checkpoint's bytes; CheckpointError when anything is off."""
    head = len(MAGIC) + _DIGEST_LEN + 1
    if len(data) < head or not data.startswith(MAGIC):
        raise CheckpointError("bad header (truncated or not a checkpoint)")
    digest, payload = data[len(MAGIC) : head - 1].decode("ascii", "replace"), data[head:]
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CheckpointError("checksum mismatch (truncated or corrupt)")
    try:
        state: dict[str, Any] = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception as exc:  # any unpickling failure means the same thing: unusable
        raise CheckpointError(f"unloadable payload: {exc}") from exc
    return state


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint files, newest (highest global step) first; temp files are ignored."""
    found = [p for p in checkpoint_dir(run_dir).glob("ckpt-*.pt") if _NAME.match(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def save(run_dir: Path, state: dict[str, Any], keep: int) -> Path:
    """Write ckpt-<step>.pt and latest.json atomically, then prune to the newest keep."""
    path = checkpoint_dir(run_dir) / f"ckpt-{state['global_step']:012d}.pt"
    atomic_write(path, encode(state), float(os.environ.get(DELAY_ENV, "0") or 0))
    atomic_write(checkpoint_dir(run_dir) / "latest.json", _latest_json(path, state))
    prune(run_dir, keep)
    return path


def _latest_json(path: Path, state: dict[str, Any]) -> bytes:
    meta = {
        "file": path.name,
        "global_step": state["global_step"],
        "episodes": state["episodes"],
        "time": state["time"],
        "game": state["settings"]["game"],
        "settings": state["settings"],
    }
    return json.dumps(meta, indent=1).encode() + b"\n"


def prune(run_dir: Path, keep: int) -> None:
    """Delete all but the newest keep checkpoints."""
    for old in list_checkpoints(run_dir)[keep:]:
        try:
            old.unlink(missing_ok=True)
        except OSError as exc:  # one that cannot go now goes at a later checkpoint
            log.warning("cannot delete old checkpoint %s: %s", old, exc.strerror or exc)


def remove_stale_temps(run_dir: Path) -> None:
    """Temp files left by a process killed mid-write are never valid; drop them."""
    for tmp in checkpoint_dir(run_dir).glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_newest_good(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that verifies, saying why each newer one was passed over.

    None when there are none (or only corrupt ones); CheckpointUnreadable when none
    verified but some could not be read at all."""
    try:
        paths = list_checkpoints(run_dir)
    except OSError as exc:
        raise CheckpointUnreadable(
            f"cannot list {checkpoint_dir(run_dir)}: {exc.strerror or exc}"
        ) from exc
    unreadable: list[str] = []
    for path in paths:
        try:
            data = _read(path)
        except FileNotFoundError:
            continue  # removed since the listing: nothing to load or condemn
        except OSError as exc:
            log.warning(
                "cannot read checkpoint %s (%s); leaving it in place and trying the previous one",
                path,
                exc.strerror or exc,
            )
            unreadable.append(f"{path.name}: {exc.strerror or exc}")
            continue
        try:
            return path, decode(data)
        except CheckpointError as exc:
            log.warning(
                "checkpoint %s is corrupt (%s); renamed to %s.corrupt, trying the previous one",
                path,
                exc,
                path.name,
            )
            _quarantine(path)
    if unreadable:
        raise CheckpointUnreadable(
            f"no checkpoint in {checkpoint_dir(run_dir)} verified and {len(unreadable)} could "
            f"not be read ({'; '.join(unreadable)}); not starting over them"
        )
    return None


def _read(path: Path) -> bytes:
    """The file's bytes, retrying an OSError briefly (a transient EIO or EMFILE)."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise  # retrying cannot help
        except OSError:
            if attempt == READ_ATTEMPTS:
                raise
            time.sleep(READ_RETRY_S)
    raise AssertionError("unreachable")


def _quarantine(path: Path) -> None:
    """Move a bad checkpoint out of the listing (kept for inspection), so newer good ones
    written after a resume from an older step are not pruned in its favour."""
    with contextlib.suppress(OSError):
        path.rename(path.with_name(path.name + ".corrupt"))
