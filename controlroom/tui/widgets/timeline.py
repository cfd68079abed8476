"""The reboot timeline: boots on a time axis, uptime, downtime and the load at each reboot."""

from __future__ import annotations

import itertools

from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import clock_short, duration, gib
from controlroom.tui.widgets.quiet import QuietStatic

WINDOW_S = 24 * 3600
ROWS_SHOWN = 4


class RebootTimeline(QuietStatic):
    """The last 24 h: up as bars, down as gaps, each reboot with its load."""

    def show(self, boots: list[protocol.Boot], agent_now: float) -> None:
        width = max(20, self.content_size.width or 52)
        self.show_text(render_timeline(boots, agent_now, width))
        self.show_titles(title=timeline_title(boots, agent_now))


def timeline_title(boots: list[protocol.Boot], now: float) -> str:
    """The title names the span the axis draws (its left end reads the same)."""
    return f"Reboots · last {span_label(_span(boots, now))}" if boots else "Reboots"


def span_label(span: float) -> str:
    return "24h" if span >= WINDOW_S else duration(span)


def downtime_share(boots: list[protocol.Boot], now: float, window: float = WINDOW_S) -> float:
    """Share of the time lost to downtime between boots, over the last `window` seconds
    or since the first recorded boot, whichever is shorter."""
    if not boots:
        return 0.0
    first = boots[0].boot_time or now
    window = min(window, max(1.0, now - first))
    start = now - window
    lost = 0.0
    for b in boots[1:]:
        down_end = b.boot_time
        down_start = down_end - (b.downtime_before_s or 0.0)
        lost += max(0.0, min(down_end, now) - max(down_start, start))
    return lost / window if window else 0.0


def render_timeline(boots: list[protocol.Boot], now: float, width: int) -> Text:
    if not boots:
        return Text("no boots recorded yet", style="dim")
    lines = [_axis(boots, now, width), _summary(boots, now)]
    lines.append(Text("boot at  up       down    load at reboot", style="bold"))
    pairs = list(itertools.pairwise(boots))[-ROWS_SHOWN:]
    lines += [_reboot_row(prev, b) for prev, b in pairs]
    return Text("\n").join(lines)


def _span(boots: list[protocol.Boot], now: float) -> float:
    """Since the first boot and a little more, at least an hour, at most 24 h (the
    window the reboot counts use)."""
    if not boots:
        return WINDOW_S
    first = boots[0].boot_time or now
    return min(WINDOW_S, max(3600.0, (now - first) * 1.05))


def _axis(boots: list[protocol.Boot], now: float, width: int) -> Text:
    span = _span(boots, now)
    start = now - span
    prefix = f"-{span_label(span)} "
    cells = ["·"] * max(8, width - len(prefix) - len(" now"))
    for i, b in enumerate(boots):
        up_from = b.boot_time
        up_to = now if i == len(boots) - 1 else (b.last_heartbeat or up_from)
        _fill(cells, (start, span), up_from, up_to, "━")
        if i:
            _fill(cells, (start, span), up_from, up_from, "▼")
    return Text.assemble((prefix, "dim"), ("".join(cells), "green"), (" now", "dim"))


def _fill(cells: list[str], window: tuple[float, float], a: float, b: float, ch: str) -> None:
    start, span = window
    w = len(cells)
    lo = max(0, int((a - start) / span * w))
    hi = min(w - 1, int((b - start) / span * w))
    for i in range(lo, hi + 1):
        cells[i] = ch


def _summary(boots: list[protocol.Boot], now: float) -> Text:
    recent = [b for b in boots[1:] if b.boot_time >= now - WINDOW_S]
    down = sum(b.downtime_before_s or 0.0 for b in recent)
    share = downtime_share(boots, now)
    style = "bold red" if share >= 0.05 else "bold yellow" if share > 0 else "bold green"
    return Text.assemble(
        f"{len(recent)} reboots · down {duration(down)} · ",
        (f"{share * 100:.1f}% of the time lost", style),
    )


def _reboot_row(prev: protocol.Boot, b: protocol.Boot) -> Text:
    load = prev.load
    games = "?" if load.games is None else load.games
    trainers = "?" if load.trainers is None else load.trainers
    load_text = f"{games} games · {trainers} procs · {gib(load.gpu_memory_used)}"
    return Text(
        f"{clock_short(b.boot_time):<8} {duration(prev.uptime_s):<8} "
        f"{duration(b.downtime_before_s):<7} {load_text}"
    )
