"""Which config the agent uses, and its own copy in the state dir.

The first run copies the config it was given (or the built-in defaults) to
state_dir/config.toml; from then on that copy is the authority for what runs on this
host, and changes made through the agent are written back to it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from controlroom.agent import paths
from controlroom.config import Config, ConfigError, find_config, load, loads, starter_text

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
    state_dir = paths.ensure_state_dir(paths.resolve_state_dir(state_dir_flag,
                                                               given.agent.state_dir))
    copy = paths.config_copy_path(state_dir)
    if not copy.exists():
        copy.write_text(text, encoding="utf-8")
        log.info("config copied from %s to %s", source or "built-in defaults", copy)
        return load(copy), copy, state_dir
    if config_flag and source and source.resolve() != copy.resolve() \
            and source.read_text(encoding="utf-8") != copy.read_text(encoding="utf-8"):
        log.warning("using %s (the agent's own copy, its authority), not %s", copy, source)
    return load(copy), copy, state_dir
