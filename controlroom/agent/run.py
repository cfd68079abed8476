"""`controlroom agent run`: logging, the single-instance lock, then the event loop."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import logging.handlers
import os
import sys
import traceback
from pathlib import Path
from typing import IO

from controlroom import extras
from controlroom.agent.storage import paths
from controlroom.agent.storage.configfile import agent_config

log = logging.getLogger("controlroom.agent")

LOG_BYTES, LOG_BACKUPS = 5 * 2**20, 3
EXIT_NO_EXTRA = 2  # as `controlroom agent run` through controlroom.cli says it


def run_agent(state_dir_flag: str | None, config_flag: str | None) -> int:
    """Run the agent in the foreground until SIGTERM; 1 when another one holds the dir,
    EXIT_NO_EXTRA (one line on stderr, nothing touched) without the [agent] extra."""
    problem = extras.agent_extra_problem("the agent")
    if problem is None:
        try:
            from controlroom.agent.daemon import Agent
        except ImportError as exc:
            problem = _extra_import_problem(exc)
    if problem is not None:  # stderr is agent.stderr under `ensure`: one line, no traceback
        print(f"controlroom agent run: {problem}", file=sys.stderr)
        return EXIT_NO_EXTRA
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


def _extra_import_problem(exc: ImportError) -> str:
    """The line for a module of the extra that is there but does not import (a broken or
    partial install); an ImportError of anything else is a bug, raised as it is."""
    name = (exc.name or "").split(".")[0]
    if name not in extras.AGENT_EXTRA:
        frames = traceback.extract_tb(exc.__traceback__)
        name = next((m for m in extras.AGENT_EXTRA if frames and _in_package(frames[-1], m)), "")
    if not name:
        raise exc
    return (
        f"the agent cannot import {name} ({type(exc).__name__}: {exc}): reinstall the "
        f"host extra: {extras.INSTALL_HINT}"
    )


def _in_package(frame: traceback.FrameSummary, module: str) -> bool:
    path = Path(frame.filename)
    return module in path.parts[:-1] or path.name == f"{module}.py"


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
