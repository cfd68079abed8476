"""Which config the agent uses, and its own copy in the state dir.

The first run copies the config it was given (or the built-in defaults) to
state_dir/config.toml; from then on that copy is the authority for what runs on this
host, and changes made through the agent are written back to it.
"""

from __future__ import annotations

import logging
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from controlroom.agent.storage import paths
from controlroom.agent.storage.store import Store
from controlroom.config import (
    Config,
    ConfigError,
    find_config,
    load,
    loads,
    save,
    starter_text,
)

log = logging.getLogger(__name__)


def state_dir_for(flag: str | None, config_flag: str | None = None) -> Path:
    """The state dir a host command means, reading the config only when it must."""
    configured = None
    if not flag and not _env_state_dir():
        try:
            found = find_config(config_flag)
            configured = load(found).agent.state_dir if found else None
        except ConfigError:
            configured = None  # a broken laptop-side config must not hide the agent
    return paths.resolve_state_dir(flag, configured)


def _env_state_dir() -> str | None:
    import os

    return os.environ.get(paths.STATE_DIR_ENV)


def agent_config(state_dir_flag: str | None, config_flag: str | None) -> tuple[Config, Path, Path]:
    """(config, the agent's config file, state dir), creating the state dir and the copy."""
    source = find_config(config_flag)
    given = load(source) if source else loads(starter_text(), "<built-in defaults>")
    # Read only once load() has said the file is valid UTF-8 TOML (else one line, exit 2).
    text = source.read_text(encoding="utf-8") if source else starter_text()
    state_dir = paths.ensure_state_dir(
        paths.resolve_state_dir(state_dir_flag, given.agent.state_dir)
    )
    copy = paths.config_copy_path(state_dir)
    if not copy.exists():
        copy.write_text(text, encoding="utf-8")
        if source:  # a source kept private (alert URLs are secrets) gives a private copy
            copy.chmod(source.stat().st_mode & 0o777)
        log.info("config copied from %s to %s", source or "built-in defaults", copy)
        return load_own_copy(copy, state_dir), copy, state_dir
    if (
        config_flag
        and source
        and source.resolve() != copy.resolve()
        and source.read_text(encoding="utf-8") != copy.read_text(encoding="utf-8")
    ):
        log.warning("using %s (the agent's own copy, its authority), not %s", copy, source)
    return load_own_copy(copy, state_dir), copy, state_dir


MAX_QUARANTINED = 50  # a copy with more bad keys than this is not worth repairing


def load_own_copy(copy: Path, state_dir: Path) -> Config:
    """The agent's own copy; a value in it that fails today's bounds (written by an older
    agent, or bounds that tightened since) is quarantined instead of keeping the agent
    and so every client out: the file is kept aside as config.toml.rejected-<time>, the
    bad keys are dropped (their defaults apply), and an `error` event names each one.
    A file that is not TOML at all still refuses to start, in one line."""
    try:
        return load(copy)
    except ConfigError as first:
        if first.path is None:
            raise
        error = first
    text = copy.read_text(encoding="utf-8")
    raw, dropped = tomllib.loads(text), list[str]()
    while len(dropped) < MAX_QUARANTINED and error.path and _drop(raw, error.path):
        dropped.append(str(error))
        try:
            cfg = loads(tomli_w.dumps(raw), str(copy))
        except ConfigError as again:
            error = again
            continue
        _set_aside(copy, text, cfg, dropped, state_dir)
        return cfg
    raise error


def _drop(raw: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Remove the key at `path` from the TOML document; False when it is not there."""
    table: Any = raw
    for key in path[:-1]:
        table = table.get(key) if isinstance(table, dict) else None
    if not isinstance(table, dict) or path[-1] not in table:
        return False
    del table[path[-1]]
    return True


def _set_aside(copy: Path, text: str, cfg: Config, dropped: list[str], state_dir: Path) -> None:
    aside = copy.with_name(f"{copy.name}.rejected-{time.strftime('%Y%m%dT%H%M%S')}")
    aside.write_text(text, encoding="utf-8")
    save(cfg, copy)
    store = Store(paths.db_path(state_dir))
    try:
        for problem in dropped:
            message = f"config quarantined: {problem}; its default applies (was kept in {aside})"
            log.error("%s", message)
            store.add_event("error", None, message, {"config_aside": str(aside)})
    finally:
        store.close()
