"""What the policy engine keeps in the agent's kv store between ticks, agent restarts and
reboots (the very thing the ramp measures): one Struct, converted with msgspec at the
store's edge, so a record an older or newer agent wrote loads with its unknown keys
dropped and its missing ones at their defaults.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.agent.policy.guard import Watch
from controlroom.agent.policy.queue import Queue
from controlroom.agent.policy.ramp import RampState

log = logging.getLogger(__name__)


class SavedPolicy(msgspec.Struct, kw_only=True):
    """The engine's state as the kv store keeps it."""

    ramp: RampState = msgspec.field(default_factory=RampState)
    guard: Watch = msgspec.field(default_factory=Watch)
    queue: Queue = msgspec.field(default_factory=Queue)
    trials: dict[str, protocol.AnyTrial] = {}
    profile: str | None = None


def load(raw: Any) -> SavedPolicy:
    """The saved state from kv_get's JSON (None: nothing saved yet). A record this agent
    cannot read (a hand edit, a broken disk) starts the policy afresh rather than
    keeping the agent from starting."""
    try:
        saved = msgspec.convert(raw or {}, SavedPolicy)
    except msgspec.ValidationError as exc:
        log.warning("the saved policy state is unreadable (%s): starting afresh", exc)
        saved = SavedPolicy()
    # The hold under the limits restarts with the agent: it must be seen again.
    saved.guard.clear_since = None
    return saved


def dump(saved: SavedPolicy) -> Any:
    """The saved state as kv_set's JSON."""
    return msgspec.to_builtins(saved)
