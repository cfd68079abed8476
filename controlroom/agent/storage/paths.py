"""Where the agent keeps its things: one private state dir, resolved the same way everywhere.

--state-dir beats $CONTROLROOM_STATE_DIR beats the config's [agent].state_dir, so the
host CLI, the daemon and `agent where` always agree on the socket they mean.
"""

from __future__ import annotations

import os
from pathlib import Path

from controlroom.config_schema import ConfigError

STATE_DIR_ENV = "CONTROLROOM_STATE_DIR"
DEFAULT_STATE_DIR = "~/.local/state/controlroom"
# Files only the agent makes: a folder holding one of them is an agent's state dir.
OWN_FILES = ("agent.db", "agent.lock", "agent.sock", "agent.log", "agent.stderr")
# The rest of its layout: a folder holding only these (a config copy seeded before the
# first start) is one too.
LAYOUT = ("config.toml", "runs", "snapshots", "trials")


class StateDirError(ConfigError):
    """A state dir the agent must not take over (printed as one line, exit 2)."""


def resolve_state_dir(explicit: str | None = None, configured: str | None = None) -> Path:
    """The state dir by precedence: flag, environment, config, built-in default.

    Resolved (symlinks followed) once, here: the kernel reports a trainer's cwd resolved,
    and finding a running trainer compares the two."""
    chosen = explicit or os.environ.get(STATE_DIR_ENV) or configured or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().resolve()


def ensure_state_dir(state_dir: Path) -> Path:
    """Create the dir private to this user (0700), or tighten one that is already ours.

    A folder that is not ours (the home folder, or one holding other files and none of
    the agent's) is refused with StateDirError and left as it was: chmod 0700 would lock
    others out of a shared folder, and the agent would mix its files with theirs."""
    state_dir = state_dir.resolve()
    if state_dir.exists():
        _check_ours(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Other users must not reach the socket, so the dir itself is the first fence.
        os.chmod(state_dir, 0o700)
    except OSError as exc:
        raise StateDirError(
            f"cannot make state dir {state_dir} private to you: {exc.strerror or exc}"
        ) from exc
    return state_dir


def _check_ours(state_dir: Path) -> None:
    hint = f"choose a folder of its own, e.g. --state-dir {state_dir / 'controlroom'}"
    if state_dir in (_home(), Path(state_dir.anchor)):
        raise StateDirError(f"state dir {state_dir} is your home folder or the root; {hint}")
    try:
        entries = os.listdir(state_dir)
    except OSError as exc:
        raise StateDirError(
            f"cannot use state dir {state_dir}: {exc.strerror or exc}; {hint}"
        ) from exc
    ours = any(name in OWN_FILES for name in entries) or all(
        name in LAYOUT or name.startswith("agent.") for name in entries
    )
    if not ours:
        raise StateDirError(
            f"state dir {state_dir} is not empty and holds no agent files "
            f"(found {', '.join(sorted(entries)[:3])}); {hint}"
        )


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry
        return None


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


def trials_dir(state_dir: Path, game: str) -> Path:
    """Where a game's beside trials run, one dir per trial named by its UTC start."""
    return state_dir / "trials" / game
