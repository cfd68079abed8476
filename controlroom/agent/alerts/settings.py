"""The [alerts] settings as the agent takes them: a file holding alert URLs (secrets)
that group or others can read is refused, in the way that keeps training going: the agent
logs the reason and runs without alerts (its status and the TUI say why), rather than
refusing to start and leaving the games unsupervised.
"""

from __future__ import annotations

import stat
from pathlib import Path

from controlroom.config import AlertsConfig


def holds_secrets(cfg: AlertsConfig) -> bool:
    """Whether the section names a URL (an apprise URL or a heartbeat URL carries a token)."""
    return bool(cfg.urls or cfg.heartbeat_url)


def mode_problem(path: Path, cfg: AlertsConfig) -> str | None:
    """Why alerts must stay off for the file they came from, or None: it holds URLs and
    group or others may read it."""
    if not holds_secrets(cfg):
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return f"cannot check who may read {path}: {exc.strerror or exc}"
    if mode & 0o077:
        return (
            f"{path} holds alert URLs (secrets) and others may read it (mode {mode:04o}): "
            f"alerts are off until you run `chmod 600 {path}` and restart the agent"
        )
    return None
