"""GPU and host gauges: a bar, the value and a sparkline of recent history for each.

One GPU gets its util, memory, temperature and power lines. Several get one line each
(two to a line past four, so an 8-GPU box fits the same 7 rows): index, util, a memory
bar, memory and temperature, and with room the games on it; then the mean utilization
with its history. Memory and heat are per GPU (the guard's budgets are), so every
device is shown, never a sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from controlroom.tui.format import bar, gib, spark
from controlroom.tui.widgets.quiet import QuietStatic

GIB = 1 << 30
BAR_W, SPARK_W = 14, 20
INNER_W = 59  # the pane's width (63) less border and padding
GPU_ROWS = 4  # rows for the GPUs, with util, cpu and ram below them: 7 in all


class Gauges(QuietStatic):
    """GPU utilization, memory, temperature, power (with history), trainers, CPU, RAM."""

    def show(self, state: dict[str, Any]) -> None:
        self.show_text(render_gauges(state))
        gpus = state.get("gpus") or []
        self.show_titles(title=_title(gpus))
        self.set_class(not gpus, "-no-gpu")


def _title(gpus: list[dict[str, Any]]) -> str:
    if not gpus:
        return "Load · no GPU"
    g = gpus[0]
    if len(gpus) == 1:
        return f"GPU {g.get('index', 0)} · {g.get('name', '?')}"
    kind = g.get("name", "?") if len({x.get("name") for x in gpus}) == 1 else "mixed"
    hidden = len(gpus) - len(_shown(gpus))
    return f"{len(gpus)} GPUs · {kind}" + (f" · {hidden} not shown" if hidden else "")


def render_gauges(state: dict[str, Any]) -> Text:
    hist = state.get("history") or {}
    gpus = state.get("gpus") or []
    lines: list[Text] = []
    if len(gpus) == 1:
        lines += _gpu_lines(gpus[0], hist)
    elif gpus:
        lines += _many_gpu_lines(gpus, hist)
    else:
        reason = state.get("gpu_error") or "no NVIDIA GPU found"
        lines.append(Text(f"no GPU on this host ({reason})", style="bold"))
    lines += _system_lines(state.get("system") or {}, hist)
    return Text("\n").join(lines)


def _row(
    label: str, frac: float | None, value: str, history: Sequence[float], hi: float | None = 100.0
) -> Text:
    """A gauge line; `hi` None scales the sparkline to its own range (memory, power)."""
    text = Text(f"{label:<6}")
    text.append(bar(frac, BAR_W), style="dim" if frac is None else _level(frac))
    text.append(f" {value:>15} ")
    text.append(spark(history, SPARK_W, lo=None if hi is None else 0.0, hi=hi), style="cyan")
    return text


def _level(frac: float) -> str:
    return "red" if frac >= 0.9 else "yellow" if frac >= 0.7 else "green"


def _gpu_lines(g: dict[str, Any], hist: dict[str, Any]) -> list[Text]:
    used, total = g.get("memory_used") or 0, g.get("memory_total") or 0
    mem_frac = used / total if total else None
    temp, power, limit = g.get("temperature_c"), g.get("power_w"), g.get("power_limit_w")
    util = g.get("utilization")
    return [
        _row(
            "util",
            None if util is None else util / 100,
            f"{util or 0:.0f}%",
            hist.get("gpu_util") or [],
        ),
        _row("mem", mem_frac, f"{gib(used)}/{gib(total)}", hist.get("gpu_mem") or [], hi=None),
        _row(
            "temp",
            None if temp is None else temp / 90,
            f"{temp or 0:.0f}°C",
            hist.get("gpu_temp") or [],
            hi=90.0,
        ),
        _row(
            "power",
            power / limit if power and limit else None,
            f"{power or 0:.0f}/{limit or 0:.0f} W",
            hist.get("gpu_power") or [],
            hi=None,
        ),
        _trainers_line(g.get("processes") or []),
    ]


def _shown(gpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return gpus[: GPU_ROWS * _per_row(gpus)]


def _per_row(gpus: list[dict[str, Any]]) -> int:
    return 1 if len(gpus) <= GPU_ROWS else 2


def _many_gpu_lines(gpus: list[dict[str, Any]], hist: dict[str, Any]) -> list[Text]:
    per = _per_row(gpus)
    cells = [_gpu_cell(g, wide=per == 1) for g in _shown(gpus)]
    rows = [Text(" │ ").join(cells[i : i + per]) for i in range(0, len(cells), per)]
    util = sum(float(g.get("utilization") or 0) for g in gpus) / len(gpus)
    return [*rows, _row("util", util / 100, f"{util:.0f}% mean", hist.get("gpu_util") or [])]


def _gpu_cell(g: dict[str, Any], *, wide: bool) -> Text:
    """One GPU in a line: " 3  40% ███░░  30/80G  55°" and, when wide, its games."""
    used, total = g.get("memory_used") or 0, g.get("memory_total") or 0
    frac = used / total if total else None
    temp = float(g.get("temperature_c") or 0)
    text = Text(f"{g.get('index', '?')!s:>2} {g.get('utilization') or 0:>3.0f}% ")
    text.append(bar(frac, 12 if wide else 5), style="dim" if frac is None else _level(frac))
    text.append(f" {used / GIB:>3.0f}/{total / GIB:.0f}G".ljust(9))
    text.append(f"{temp:>3.0f}°", style=_level(temp / 90))
    if wide:
        games = sorted({str(p.get("game")) for p in g.get("processes") or [] if p.get("game")})
        text.append(f" {', '.join(games) or '-'}"[: INNER_W - len(text)], style="cyan")
    return text


def _trainers_line(procs: list[dict[str, Any]]) -> Text:
    if not procs:
        return Text("trainers  none on the GPU", style="dim")
    parts = [f"{p.get('game') or p.get('pid')} {gib(p.get('memory_used'))}" for p in procs]
    return Text("trainers  " + " · ".join(parts))


def _system_lines(s: dict[str, Any], hist: dict[str, Any]) -> list[Text]:
    cpu = s.get("cpu_percent")
    used, total = s.get("ram_used") or 0, s.get("ram_total") or 0
    return [
        _row("cpu", None if cpu is None else cpu / 100, f"{cpu or 0:.0f}%", hist.get("cpu") or []),
        _row(
            "ram",
            used / total if total else None,
            f"{gib(used)}/{gib(total)}",
            hist.get("ram") or [],
            hi=None,
        ),
    ]
