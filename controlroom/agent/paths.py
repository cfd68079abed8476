"""Where the agent keeps its things: one private state dir, resolved the same way everywhere.

--state-dir beats $CONTROLROOM_STATE_DIR beats the config's [agent].state_dir, so the
host CLI, the daemon and `agent where` always agree on the socket they mean.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "CONTROLROOM_STATE_DIR"
DEFAULT_STATE_DIR = "~/.local/state/controlroom"


def resolve_state_dir(explicit: str | None = None, configured: str | None = None) -> Path:
    """The state dir by precedence: flag, environment, config, built-in default."""
    chosen = explicit or os.environ.get(STATE_DIR_ENV) or configured or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().absolute()


def ensure_state_dir(state_dir: Path) -> Path:
    """Create the dir private to this user (0700), tightening it if it already exists."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Other users must not reach the socket, so the dir itself is the first fence.
    os.chmod(state_dir, 0o700)
    return state_dir


def socket_path(state_dir: Path) -> Path:
    """The agent's unix socket."""
    return state_dir / "agent.sock"


def db_path(state_dir: Path) -> Path:
    """The SQLite store."""
    return state_dir / "agent.db"


def lock_path(state_dir: Path) -> Path:
    """Held (flock) by the one running agent of this state dir."""
    return state_dir / "agent.lock"


def log_path(state_dir: Path) -> Path:
    """The rotating log file."""
    return state_dir / "agent.log"


def config_copy_path(state_dir: Path) -> Path:
    """The agent's own config copy: its authority once written."""
    return state_dir / "config.toml"


def runs_dir(state_dir: Path) -> Path:
    """Parent of every game's run dir."""
    return state_dir / "runs"
