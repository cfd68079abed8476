"""What the policy engine keeps in the agent's kv store between ticks, agent restarts and
reboots (the very thing the ramp measures): one Struct, converted with msgspec at the
store's edge, so a record an older or newer agent wrote loads with its unknown keys
dropped and its missing ones at their defaults. Each part (the ramp, the guard's watch,
the queue, each trial) loads on its own: one this agent cannot read starts afresh, with
a warning, and takes nothing else with it (a broken trial must not cost the ceiling).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec

from controlroom import protocol
from controlroom.agent.policy.guard import Watch
from controlroom.agent.policy.queue import Queue
from controlroom.agent.policy.ramp import RampState
from controlroom.agent.policy.tune_search import TuneBook

log = logging.getLogger(__name__)
T = TypeVar("T")


class SavedPolicy(msgspec.Struct, kw_only=True):
    """The engine's state as the kv store keeps it."""

    ramp: RampState = msgspec.field(default_factory=RampState)
    guard: Watch = msgspec.field(default_factory=Watch)
    queue: Queue = msgspec.field(default_factory=Queue)
    trials: dict[str, protocol.AnyTrial] = {}
    profile: str | None = None
    tune: TuneBook = msgspec.field(default_factory=TuneBook)


def load(raw: Any) -> SavedPolicy:
    """The saved state from kv_get's JSON (None: nothing saved yet)."""
    parts = raw if isinstance(raw, dict) else {}
    trials = parts.get("trials")
    saved = SavedPolicy(
        ramp=_part("ramp", parts.get("ramp"), RampState, RampState()),
        guard=_part("guard", parts.get("guard"), Watch, Watch()),
        queue=_part("queue", parts.get("queue"), Queue, Queue()),
        trials={
            game: trial
            for game, record in (trials if isinstance(trials, dict) else {}).items()
            if (trial := _trial(game, record)) is not None
        },
        profile=_part("profile", parts.get("profile"), str | None, None),
        tune=_part("tune", parts.get("tune"), TuneBook, TuneBook()),
    )
    # The hold under the limits restarts with the agent: it must be seen again.
    saved.guard.clear_since = None
    return saved


def _trial(game: str, record: Any) -> protocol.AnyTrial | None:
    none: protocol.AnyTrial | None = None  # a trial unreadable is dropped, not made up
    return _part(f"trial of {game}", record, protocol.AnyTrial, none)


def _part(name: str, raw: Any, kind: Any, fresh: T) -> T:
    """One part of the saved state, or `fresh` (and a warning) when it is unreadable."""
    if raw is None:
        return fresh
    try:
        part: T = msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        log.warning("the saved policy %s is unreadable (%s): starting it afresh", name, exc)
        return fresh
    return part


def dump(saved: SavedPolicy) -> Any:
    """The saved state as kv_set's JSON."""
    return msgspec.to_builtins(saved)
