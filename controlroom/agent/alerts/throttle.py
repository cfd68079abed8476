"""Which events go out now, and which wait: one alert per game and kind per
`min_interval_s`; the ones between are counted, and their count goes out when the
interval ends (a crash loop of 100 crashes is one alert and one count, not 100).

Pure: times are given, nothing is sent here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controlroom import protocol
from controlroom.agent.alerts.message import Held

Key = tuple[str | None, str]  # (game, kind)


@dataclass
class _Waiting:
    count: int
    since: float
    last: protocol.Event


class Throttle:
    """The last send per (game, kind), and what waits for its interval to end."""

    def __init__(self, min_interval_s: Callable[[], float]) -> None:
        self.min_interval_s = min_interval_s
        self.last_sent: dict[Key, float] = {}
        self.waiting: dict[Key, _Waiting] = {}

    def admit(self, event: protocol.Event, now: float) -> bool:
        """True: send it now (and start its interval); False: counted, to go out later."""
        key = (event.game, event.kind)
        last = self.last_sent.get(key)
        # `now` is one batch's time: the events of one batch go out together (counted).
        if last is None or now - last >= self.min_interval_s() or last == now:
            self.last_sent[key] = now
            return True
        w = self.waiting.get(key)
        if w is None:
            self.waiting[key] = _Waiting(1, event.ts, event)
        else:
            w.count, w.last = w.count + 1, event
        return False

    def due(self, now: float) -> list[Held]:
        """The counts whose interval has ended (their send starts a new interval)."""
        out = []
        for key in [k for k in self.waiting if self._ends(k) <= now]:
            w = self.waiting.pop(key)
            self.last_sent[key] = now
            out.append(Held(key[1], key[0], w.count, w.since, w.last))
        return out

    def next_due(self, now: float) -> float | None:
        """Seconds until the next count is due; None when nothing waits."""
        if not self.waiting:
            return None
        return max(0.0, min(self._ends(k) for k in self.waiting) - now)

    def _ends(self, key: Key) -> float:
        return self.last_sent.get(key, 0.0) + self.min_interval_s()
