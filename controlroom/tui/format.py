"""Small pure formatters: numbers, durations, bars and sparklines as text."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

SPARKS = "▁▂▃▄▅▆▇█"
GIB = 1024**3


def duration(seconds: float | None) -> str:
    """`45s`, `12m`, `3h 4m`, `2d 5h`; `-` when unknown."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def gib(n: float | None) -> str:
    """Bytes as GiB with one decimal; `-` when unknown."""
    return "-" if n is None else f"{n / GIB:.1f}G"


def count(n: float | None) -> str:
    """12, 1,234, 12.3k, 4.5M."""
    if n is None:
        return "-"
    if abs(n) < 10_000:
        return f"{n:,.0f}"
    if abs(n) < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def number(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def bar(fraction: float | None, width: int) -> str:
    """A horizontal bar of `width` cells, eighths included."""
    if width <= 0:
        return ""
    f = min(1.0, max(0.0, fraction or 0.0))
    eighths = round(f * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part and full < width else ""
    return ("█" * full + partial).ljust(width, "░")


def spark(
    values: Sequence[float], width: int, lo: float | None = None, hi: float | None = None
) -> str:
    """The last `width` values as a one-line sparkline (empty when there are none)."""
    tail = [v for v in list(values)[-width:] if v is not None]
    if not tail:
        return ""
    low = min(tail) if lo is None else lo
    high = max(tail) if hi is None else hi
    span = (high - low) or 1.0
    top = len(SPARKS) - 1
    return "".join(SPARKS[max(0, min(top, round((v - low) / span * top)))] for v in tail)


def clock(ts: float | None) -> str:
    """Local wall-clock time HH:MM:SS of a timestamp."""
    return "--:--:--" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))


def clock_short(ts: float | None) -> str:
    return "--:--" if ts is None else time.strftime("%H:%M", time.localtime(ts))


def names(text: str, name: str) -> bool:
    """Whether `text` already names `name` as a word of its own ("Pong added", "tnr-0
    refused"): the agent's messages often do, and a prefix would say it twice."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def about(name: str | None, text: str) -> str:
    """`name: text`, unless there is no name or the text already names it."""
    return text if not name or names(text, name) else f"{name}: {text}"


def without_name(text: str, name: str) -> str:
    """`text` without a leading `name:` or `name ` (where the name is shown already)."""
    for prefix in (f"{name}: ", f"{name} "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text
