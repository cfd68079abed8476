"""Recorded learning histories in the `history` op's result shape (protocol.py), for the
detail screen's tests, snapshots and screenshots when no agent is at hand.

Each was recorded from a real run by scripts/record_history.py (controlroom/assets/
recorded_history.json): a CartPole run learning (22 -> 481 in 40 s, beside Pong), a Pong
run's flat first ten minutes (diagnosed return_flat), and a CartPole run under a real
agent through a SIGKILLed trainer (crash, restart, resume from an older checkpoint) and
a reboot. Times are shifted to end just before `now` (recorded.NOW by default), so what
a test shows is stable.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from controlroom.protocol import HISTORY_COLUMNS
from controlroom.tui.recorded import NOW

DATA = Path(__file__).resolve().parents[1] / "assets" / "recorded_history.json"
END_GAP_S = 5.0  # the newest row this long before `now`: a live run's last update


def learning_cartpole(now: float = NOW) -> dict[str, Any]:
    """A CartPole run that learns: return 22 -> 481, one start mark, nothing wrong."""
    return _reply("learning_cartpole", now)


def flat_run(now: float = NOW) -> dict[str, Any]:
    """Pong's first ten minutes: return about -20.5 while steps grow; return_flat."""
    return _reply("flat_run", now)


def with_restart_and_reboot(now: float = NOW) -> dict[str, Any]:
    """CartPole through a crash, the agent's restart and a reboot, each marked."""
    return _reply("with_restart_and_reboot", now)


@cache
def _recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def _reply(name: str, now: float) -> dict[str, Any]:
    run = _recorded()[name]
    shift = now - END_GAP_S - max([r[0] for r in run["rows"]] + [m["time"] for m in run["marks"]])
    rows = [[round(r[0] + shift, 2), *r[1:]] for r in run["rows"]]
    return {
        "game": run["game"],
        "run": "main",
        "columns": list(HISTORY_COLUMNS),
        "rows": rows,
        "marks": [{**m, "time": round(m["time"] + shift, 2)} for m in run["marks"]],
        "cursor": rows[-1][0] if rows else None,
        "diagnosis": [dict(d) for d in run["diagnosis"]],
    }
