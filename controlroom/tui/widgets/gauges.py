"""GPU and host gauges: a bar, the value and a sparkline of recent history for each.

One GPU gets its util, memory, temperature and power lines. Several get one line each
(two to a line past four, so an 8-GPU box fits the same 7 rows): index, util, a memory
bar, memory and temperature, and with room the games on it; then the mean utilization
with its history. Memory and heat are per GPU (the guard's budgets are), so every
device is shown, never a sum.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import bar, gib, spark
from controlroom.tui.widgets.quiet import QuietStatic

GIB = 1 << 30
BAR_W, SPARK_W = 14, 20
INNER_W = 59  # the pane's width (63) less border and padding
GPU_ROWS = 4  # rows for the GPUs, with util, cpu and ram below them: 7 in all


class Gauges(QuietStatic):
    """GPU utilization, memory, temperature, power (with history), trainers, CPU, RAM."""

    def show(self, state: protocol.State) -> None:
        self.show_text(render_gauges(state))
        self.show_titles(title=_title(state.gpus))
        self.set_class(not state.gpus, "-no-gpu")


def _title(gpus: list[protocol.Gpu]) -> str:
    if not gpus:
        return "Load · no GPU"
    g = gpus[0]
    if len(gpus) == 1:
        return f"GPU {g.index} · {g.name}"
    kind = g.name if len({x.name for x in gpus}) == 1 else "mixed"
    hidden = len(gpus) - len(_shown(gpus))
    return f"{len(gpus)} GPUs · {kind}" + (f" · {hidden} not shown" if hidden else "")


def render_gauges(state: protocol.State) -> Text:
    hist = state.history
    lines: list[Text] = []
    if len(state.gpus) == 1:
        lines += _gpu_lines(state.gpus[0], hist)
    elif state.gpus:
        lines += _many_gpu_lines(state.gpus, hist)
    else:
        reason = state.gpu_error or "no NVIDIA GPU found"
        lines.append(Text(f"no GPU on this host ({reason})", style="bold"))
    lines += _system_lines(state.system, hist)
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


def _gpu_lines(g: protocol.Gpu, hist: protocol.History) -> list[Text]:
    used, total = g.memory_used, g.memory_total
    mem_frac = used / total if total else None
    temp, power, limit = g.temperature_c, g.power_w, g.power_limit_w
    return [
        _row("util", g.utilization / 100, f"{g.utilization:.0f}%", hist.gpu_util),
        _row("mem", mem_frac, f"{gib(used)}/{gib(total)}", hist.gpu_mem, hi=None),
        _row("temp", temp / 90, f"{temp:.0f}°C", hist.gpu_temp, hi=90.0),
        _row(
            "power",
            power / limit if power and limit else None,
            f"{power:.0f}/{limit:.0f} W",
            hist.gpu_power,
            hi=None,
        ),
        _trainers_line(g.processes),
    ]


def _shown(gpus: list[protocol.Gpu]) -> list[protocol.Gpu]:
    return gpus[: GPU_ROWS * _per_row(gpus)]


def _per_row(gpus: list[protocol.Gpu]) -> int:
    return 1 if len(gpus) <= GPU_ROWS else 2


def _many_gpu_lines(gpus: list[protocol.Gpu], hist: protocol.History) -> list[Text]:
    per = _per_row(gpus)
    cells = [_gpu_cell(g, wide=per == 1) for g in _shown(gpus)]
    rows = [Text(" │ ").join(cells[i : i + per]) for i in range(0, len(cells), per)]
    util = sum(g.utilization for g in gpus) / len(gpus)
    return [*rows, _row("util", util / 100, f"{util:.0f}% mean", hist.gpu_util)]


def _gpu_cell(g: protocol.Gpu, *, wide: bool) -> Text:
    """One GPU in a line: " 3  40% ███░░  30/80G  55°" and, when wide, its games."""
    frac = g.memory_used / g.memory_total if g.memory_total else None
    text = Text(f"{g.index:>2} {g.utilization:>3.0f}% ")
    text.append(bar(frac, 12 if wide else 5), style="dim" if frac is None else _level(frac))
    text.append(f" {g.memory_used / GIB:>3.0f}/{g.memory_total / GIB:.0f}G".ljust(9))
    text.append(f"{g.temperature_c:>3.0f}°", style=_level(g.temperature_c / 90))
    if wide:
        games = sorted({p.game for p in g.processes if p.game})
        text.append(f" {', '.join(games) or '-'}"[: INNER_W - len(text)], style="cyan")
    return text


def _trainers_line(procs: list[protocol.GpuProcess]) -> Text:
    if not procs:
        return Text("trainers  none on the GPU", style="dim")
    parts = [f"{p.game or p.pid} {gib(p.memory_used)}" for p in procs]
    return Text("trainers  " + " · ".join(parts))


def _system_lines(s: protocol.System, hist: protocol.History) -> list[Text]:
    cpu = s.cpu_percent
    used, total = s.ram_used or 0, s.ram_total or 0
    return [
        _row("cpu", None if cpu is None else cpu / 100, f"{cpu or 0:.0f}%", hist.cpu),
        _row(
            "ram",
            used / total if total else None,
            f"{gib(used)}/{gib(total)}",
            hist.ram,
            hi=None,
        ),
    ]
