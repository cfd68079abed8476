"""The words of an alert: a title and a body per event kind, and the digest of several.

Pure: events in, text out. The host's name leads every title, so one phone that hears
from several hosts knows which one spoke.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from controlroom import protocol

# What a title says per kind ({game} is the game, or "the host" for a host event).
TITLES = {
    "reboot": "back after a reboot",
    "crash": "{game} crashed",
    "crash_loop": "{game} is crash-looping",
    "hung": "{game} hung",
    "trainer_exited": "{game}'s trainer exited",
    "target_reached": "{game} reached its target",
    "guard_paused": "{game} paused by the guard",
    "guard_resumed": "{game} resumed by the guard",
    "guard_refused": "{game}: the guard refused a change",
    "looks_wrong": "{game} looks wrong",
    "disk_low": "disk low",
    "tune_finished": "{game}: tune finished",
    "agent_started": "agent started",
    "error": "error",
    "test": "test alert",
}
DIGEST_LINES = 20  # a digest lists this many events, then counts the rest


@dataclass(frozen=True)
class Alert:
    """One message to send: its words, the events it tells of, and their count."""

    title: str
    body: str
    events: list[protocol.Event] = field(default_factory=list)
    kind: str = "alert"

    def payload(self, host: str) -> protocol.JSONObject:
        """What the command hook reads on stdin."""
        return {
            "host": host,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "events": [protocol.plain(e) for e in self.events],
        }


@dataclass(frozen=True)
class Held:
    """Events of one game and kind kept back by the minimum interval."""

    kind: str
    game: str | None
    count: int
    since: float
    last: protocol.Event


def title_of(host: str, event: protocol.Event) -> str:
    """'gpu-1: Pong is crash-looping'; a reboot says how long the host was down."""
    what = TITLES.get(event.kind, event.kind.replace("_", " ") + " {game}")
    text = what.format(game=event.game or "the host").strip()
    if event.kind == "reboot":
        down = event.data.get("downtime_s")
        if isinstance(down, int | float):
            text += f" (down {span(float(down))})"
    return f"{host}: {text}"


def single(host: str, event: protocol.Event) -> Alert:
    """The alert of one event."""
    return Alert(title_of(host, event), event.message, [event], event.kind)


def held_line(h: Held) -> str:
    """'Pong crash x12 since 12:03:04 (last: exit 1)'."""
    who = h.game or "host"
    return f"{who} {h.kind} x{h.count} since {clock(h.since)} (last: {h.last.message})"


def digest(host: str, events: list[protocol.Event], held: list[Held]) -> Alert:
    """One message for several events and the counts held back."""
    lines = [_line(host, group) for group in _grouped(events)]
    lines += [held_line(h) for h in held]
    total = len(events) + sum(h.count for h in held)
    shown = lines[:DIGEST_LINES]
    if len(lines) > DIGEST_LINES:
        shown.append(f"… and {len(lines) - DIGEST_LINES} more")
    told = events + [h.last for h in held]
    return Alert(f"{host}: {total} alerts", "\n".join(shown), told, "digest")


def _grouped(events: list[protocol.Event]) -> list[list[protocol.Event]]:
    """The events by game and kind, in the order each pair first came."""
    groups: dict[tuple[str | None, str], list[protocol.Event]] = {}
    for e in events:
        groups.setdefault((e.game, e.kind), []).append(e)
    return list(groups.values())


def _line(host: str, group: list[protocol.Event]) -> str:
    first, last = group[0], group[-1]
    if len(group) > 1:
        return held_line(Held(first.kind, first.game, len(group), first.ts, last))
    return f"{clock(first.ts)} {title_of(host, first).split(': ', 1)[1]}: {first.message}"


def compose(host: str, events: list[protocol.Event], held: list[Held]) -> Alert | None:
    """The one message for what is due: one event alone, or a digest; None when nothing."""
    if len(events) == 1 and not held:
        return single(host, events[0])
    if not events and not held:
        return None
    return digest(host, events, held)


def test_alert(host: str) -> Alert:
    """`controlroom agent alerts test`'s message."""
    return Alert(
        f"{host}: test alert",
        f"controlroom on {host} can reach you ({clock(time.time())}).",
        [],
        "test",
    )


def span(seconds: float) -> str:
    """'3m12s', '2h05m', '4d03h'."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def clock(ts: float) -> str:
    """Local wall-clock time of day."""
    return time.strftime("%H:%M:%S", time.localtime(ts))
