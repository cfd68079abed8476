"""The policy panel: the profile in force, the ramp and its next step, the guard's
budgets against the load, the queue and the trials (the snapshot's `policy` value)."""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import count
from controlroom.tui.widgets.alerts_line import alerts_part
from controlroom.tui.widgets.quiet import QuietStatic

NEAR = 0.9
"""A load at this share of its budget (or above) is near the limit: the panel warns."""

PHASES = {
    "waiting": "climbing",
    "holding": "holding",
    "at_ceiling": "holding at ceiling",
    "at_last_step": "at its last step",
}


class PolicyPanel(QuietStatic):
    """Three lines: ramp; guard; queue and trials. `-warn` when a budget is near or over."""

    def show(
        self,
        policy: protocol.PolicyState,
        agent_now: float,
        alerts: protocol.AlertsState | None = None,
    ) -> None:
        """Render the `policy` value of a State (and its `alerts` on the last line),
        times as of `agent_now` (the agent's clock)."""
        lines, warn = render_policy(policy, agent_now, alerts)
        self.show_text(lines)
        self.show_titles(title=f"Policy · profile {policy.profile or '-'}")
        if warn != self.has_class("-warn"):
            self.set_class(warn, "-warn")


def render_policy(
    p: protocol.PolicyState, now: float, alerts: protocol.AlertsState | None = None
) -> tuple[Text, bool]:
    """The panel's text, and whether the guard is near or over a limit."""
    told = alerts_part(alerts, now) if alerts is not None else None
    if not p.engine:
        lines = [Text("no policy engine in this agent", style="dim"), *([told] if told else [])]
        return Text("\n").join(lines), False
    guard, warn = guard_line(p.guard or protocol.GuardView())
    rest = Text(" │ ").join([queue_line(p.queue), *trial_parts(p, now), *([told] if told else [])])
    lines = [ramp_line(p.ramp, now), guard, rest]
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    return Text("\n").join(lines), warn


def ramp_line(r: protocol.RampView | None, now: float) -> Text:
    """'ramp climbing · step 1/3 (MsPacman, Pong) · ceiling step 2 · add Asteroids in 12m'."""
    text = Text.assemble(("ramp ", "bold"))
    if r is None or not r.enabled:
        return text.append("off", style="dim")
    phase = PHASES.get(r.phase, r.phase or "?")
    text.append(
        phase + (f" ({r.hold})" if r.hold else ""),
        style="yellow" if r.hold else "green",
    )
    games = ", ".join(r.games) or "no games"
    text.append(f" · step {r.step}/{max(0, (r.steps or 1) - 1)} ({games})")
    if r.ceiling is not None:
        text.append(f" · ceiling step {r.ceiling} ({r.ceiling_games} games)")
    if r.next_action and r.next_action_at:
        text.append(f" · next: {r.next_action} {until(r.next_action_at - now)}", style="bold")
    return text


def until(seconds: float) -> str:
    """'in 12m', 'in 1h 05m', 'now'."""
    return "now" if seconds <= 0 else f"in {minutes(seconds)}"


def minutes(seconds: float) -> str:
    """'12m', '1h 05m': whole minutes rounded up, so a line changes once a minute."""
    m = math.ceil(max(0.0, seconds) / 60)
    return f"{m}m" if m < 60 else f"{m // 60}h {m % 60:02d}m"


def guard_line(g: protocol.GuardView) -> tuple[Text, bool]:
    """'guard envs 320/1024 · trainers 3/8 · GPU mem 9%/50% · 48°C/83°C · RAM 34%/90%'."""
    b, load = g.budgets, g.load
    figures: list[tuple[str, float | None, float, Callable[[float | None], str]]] = [
        ("envs", load.envs, b.max_total_envs, count),
        ("trainers", load.trainers, b.max_trainers, count),
        ("GPU mem", load.gpu_memory_fraction, b.max_gpu_memory_fraction, pct),
        ("", load.gpu_temp_c, b.max_gpu_temp_c, celsius),
        ("RAM", load.ram_fraction, b.max_host_ram_fraction, pct),
    ]
    text, warn = Text.assemble(("guard ", "bold")), bool(g.breach)
    for i, (label, value, limit, fmt) in enumerate(figures):
        style = level(value, limit)
        warn = warn or bool(style)
        text.append(" · " if i else "")
        text.append(f"{label} {fmt(value)}/{fmt(limit)}".strip(), style=style)
    if g.breach:
        text.append(f" · over: {g.breach}", style="bold red")
    if g.paused:
        text.append(f" · paused {', '.join(g.paused)}", style="yellow")
    return text, warn


def level(value: float | None, limit: float | None) -> str:
    """The style of a load against its budget: '' when clear, yellow near it, red at it."""
    if value is None or not limit or value < NEAR * limit:
        return ""
    return "bold red" if value >= limit else "bold yellow"


def queue_line(q: protocol.QueueView | None) -> Text:
    """'queue Asteroids → Freeway (1 free slot)'."""
    text = Text.assemble(("queue ", "bold"))
    q = q or protocol.QueueView()
    waiting, free = q.waiting, q.free_slots
    text.append(" → ".join(waiting) or "empty", style="" if waiting else "dim")
    if free:
        text.append(f" ({free} free slot{'' if free == 1 else 's'})")
    return text


def trial_parts(p: protocol.PolicyState, now: float) -> list[Text]:
    """One part per trial: time left, a waiting decision with its figures, or the outcome."""
    return [trial_part(t, now) for t in p.trials.values()]


def trial_part(t: protocol.AnyTrial, now: float) -> Text:
    beside = isinstance(t, protocol.BesideTrial)
    text = Text.assemble((f"{'beside ' if beside else ''}trial {t.game}: ", "bold"))
    if t.status == "running":
        ends = t.ends_at
        return text.append(f"running, {minutes(ends - now)} left" if ends else "running")
    rows = {r.figure: r for r in t.comparison or []}
    none = protocol.ComparisonRow(figure="")
    eph, sps = rows.get("episodes_per_hour", none), rows.get("sps", none)
    decision = t.decision if isinstance(t, protocol.BesideTrial) else None
    if beside and decision is None:
        text.append("keep or discard? ", style="bold yellow")
    else:
        text.append(f"{decision or t.outcome or t.status}: ")
    text.append(
        f"eps/h {figure(eph.current)}→{figure(eph.trial)} · "
        f"steps/s {figure(sps.current)}→{figure(sps.trial)}"
    )
    return text


def figure(value: protocol.Shape | float | None) -> str:
    """A compared figure as a count ('-' for none); the settings row's shape as
    '64 envs, 128 steps, mb 1024'."""
    if isinstance(value, protocol.Shape):
        return f"{value.num_envs} envs, {value.num_steps} steps, mb {value.minibatch_size}"
    return count(value)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def celsius(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}°C"
