"""The event log: what happened on the host, newest at the bottom."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from controlroom import protocol
from controlroom.protocol import EVENT_KINDS
from controlroom.tui.format import about, clock

MAX_SHOWN = 500
KIND_WIDTH = max(len(k) for k in EVENT_KINDS)
"""The kind column fits the longest kind the protocol knows; an unknown longer one is cut."""

KIND_STYLES = {
    "crash": "bold red",
    "crash_loop": "bold red",
    "hung": "bold red",
    "error": "bold red",
    "reboot": "bold magenta",
    "guard_refused": "yellow",
    "guard_paused": "yellow",
    "restart": "yellow",
    "ramp_step": "cyan",
    "ramp_ceiling": "cyan",
    "game_added": "green",
    "trainer_started": "green",
    "target_reached": "bold green",
}


class EventLog(RichLog):
    """Events as lines; `sync` appends those not shown yet (a snapshot after a reconnect
    brings back what happened meanwhile, without repeating what is on screen)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_SHOWN, wrap=False, markup=False)
        self._seen: set[tuple[Any, ...]] = set()

    def sync(self, events: list[protocol.Event]) -> int:
        """Append the events not shown yet, oldest first; returns how many."""
        fresh = [e for e in events if _key(e) not in self._seen]
        for e in fresh:
            self._seen.add(_key(e))
            self.write(render_event(e))
        if len(self._seen) > 4 * MAX_SHOWN:
            self._seen = {_key(e) for e in events}
        return len(fresh)


def _key(e: protocol.Event) -> tuple[Any, ...]:
    return (e.ts, e.kind, e.game, e.message)


def render_event(e: protocol.Event) -> Text:
    """`HH:MM:SS kind            game: message`, the kind in a column of its own; no
    `game:` where the message names the game already ("Pong added")."""
    kind = str(e.kind)
    # Each gap ends the span before it, and every kind has a style of its own: rsvg, which
    # draws the screenshots, drops a text run's leading space and squeezes long runs, so
    # a kind merged with its message ran into it there.
    return Text.assemble(
        (f"{clock(e.ts)} ", "dim"),
        (f"{kind_cell(kind)}  ", KIND_STYLES.get(kind, "default")),
        about(e.game, e.message),
    )


def kind_cell(kind: str) -> str:
    """The kind padded to the column, or cut with an ellipsis when longer."""
    if len(kind) > KIND_WIDTH:
        return kind[: KIND_WIDTH - 1] + "…"
    return kind.ljust(KIND_WIDTH)
