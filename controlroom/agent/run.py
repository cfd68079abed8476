"""`controlroom agent run`: logging, the single-instance lock, then the event loop."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import IO

from controlroom.agent.daemon import Agent
from controlroom.agent.storage import paths
from controlroom.agent.storage.configfile import agent_config

log = logging.getLogger("controlroom.agent")

LOG_BYTES, LOG_BACKUPS = 5 * 2**20, 3


def run_agent(state_dir_flag: str | None, config_flag: str | None) -> int:
    """Run the agent in the foreground until SIGTERM; 1 when another one holds the dir.
    Without psutil (the host extra) the import above fails before anything is touched,
    and controlroom.cli.run_entry, which every entry goes through, says so in one line."""
    config, config_path, state_dir = agent_config(state_dir_flag, config_flag)
    setup_logging(state_dir)
    lock = take_lock(state_dir)
    if lock is None:
        log.error("another agent already runs for %s", state_dir)
        return 1

    async def main() -> None:
        agent = Agent(config, config_path, state_dir)
        await agent.run()

    try:
        asyncio.run(main())
    finally:
        lock.close()
    log.info("agent stopped; trainers keep running")
    return 0


def setup_logging(state_dir: Path) -> None:
    """stderr (journald under systemd) and a rotating file in the state dir."""
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    rotating = logging.handlers.RotatingFileHandler(
        paths.log_path(state_dir), maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS
    )
    for handler in (stderr, rotating):
        handler.setFormatter(fmt)
        root.addHandler(handler)


def take_lock(state_dir: Path) -> IO[str] | None:
    """flock the state dir's lock file for the life of the process, or None if held."""
    fh = open(paths.lock_path(state_dir), "a+")  # noqa: SIM115  # held until exit
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
