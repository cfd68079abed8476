"""The event log: what happened on the host, newest at the bottom."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from controlroom.tui.format import clock

MAX_SHOWN = 500

KIND_STYLES = {
    "crash": "bold red", "crash_loop": "bold red", "hung": "bold red", "error": "bold red",
    "reboot": "bold magenta", "guard_refused": "yellow", "guard_paused": "yellow",
    "restart": "yellow", "ramp_step": "cyan", "ramp_ceiling": "cyan",
    "game_added": "green", "trainer_started": "green", "target_reached": "bold green",
}  # fmt: skip


class EventLog(RichLog):
    """Events as lines; `sync` appends those not shown yet (a snapshot after a reconnect
    brings back what happened meanwhile, without repeating what is on screen)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_SHOWN, wrap=False, markup=False)
        self._seen: set[tuple[Any, ...]] = set()

    def sync(self, events: list[dict[str, Any]]) -> int:
        """Append the events not shown yet, oldest first; returns how many."""
        fresh = [e for e in events if _key(e) not in self._seen]
        for e in fresh:
            self._seen.add(_key(e))
            self.write(render_event(e))
        if len(self._seen) > 4 * MAX_SHOWN:
            self._seen = {_key(e) for e in events}
        return len(fresh)


def _key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e.get("ts"), e.get("kind"), e.get("game"), e.get("message"))


def render_event(e: dict[str, Any]) -> Text:
    kind = str(e.get("kind", "?"))
    game = f"{e['game']}: " if e.get("game") else ""
    style = KIND_STYLES.get(kind, "")
    return Text.assemble((clock(e.get("ts")), "dim"), " ", (f"{kind:<14}", style),
                         f" {game}{e.get('message', '')}")  # fmt: skip
