"""Which boot this is, and whether the host rebooted since the agent last ran.

The kernel's boot id changes on every boot. Tests point $CONTROLROOM_BOOT_ID_FILE at a
file of their own to simulate a reboot; the product path reads /proc and psutil only.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from controlroom import protocol
from controlroom.agent.storage.store import Store

log = logging.getLogger(__name__)

BOOT_ID_FILE_ENV = "CONTROLROOM_BOOT_ID_FILE"  # test hook: read this file instead of /proc
PROC_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class BootInfo:
    """This boot, and the reboot found at start (None when the boot id was known)."""

    boot_id: str
    boot_time: float
    rebooted: bool
    previous: protocol.Boot | None


def read_boot() -> tuple[str, float]:
    """(boot id, boot time) of the running kernel, or of the test hook's file."""
    override = os.environ.get(BOOT_ID_FILE_ENV)
    if override:
        path = Path(override)
        return path.read_text().strip(), path.stat().st_mtime
    return PROC_BOOT_ID.read_text().strip(), psutil.boot_time()


def record_boot(store: Store, now: float | None = None) -> BootInfo:
    """Record this boot; on the first start after a reboot, record the reboot event."""
    now = time.time() if now is None else now
    boot_id, boot_time = read_boot()
    if store.boot(boot_id) is not None:
        return BootInfo(boot_id, boot_time, False, None)
    previous = store.last_boot()
    store.add_boot(boot_id, boot_time, now, previous)
    if previous is None:
        return BootInfo(boot_id, boot_time, False, None)
    _reboot_event(store, previous, boot_time)
    return BootInfo(boot_id, boot_time, True, previous)


def _reboot_event(store: Store, previous: protocol.Boot, boot_time: float) -> None:
    uptime = previous.uptime_s
    downtime = max(0.0, boot_time - previous.last_heartbeat)
    message = (
        f"host rebooted: up {_span(uptime)} before it, down {_span(downtime)}; "
        f"load then: {_load_text(previous.load)}"
    )
    data = {
        "previous_boot_id": previous.boot_id,
        "uptime_before_s": uptime,
        "downtime_s": downtime,
        "load_before": protocol.plain(previous.load),
    }
    log.warning("%s", message)
    store.add_event("reboot", None, message, data)


def _span(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _load_text(load: protocol.Load) -> str:
    if load == protocol.Load():
        return "unknown"
    gib = (load.gpu_memory_used or 0) / 2**30
    return f"{load.games or 0} games, {load.trainers or 0} trainers, {gib:.1f} GiB GPU"


def reboots_since(boots: list[protocol.Boot], since: float) -> int:
    """How many reboots (boots after the first known one) began after `since`."""
    return sum(1 for b in boots if b.prev_boot_id and b.boot_time >= since)
