"""The gradual ramp (the log's Option 3, unattended) as a pure state machine.

Step k runs the first start_games + k games of [ramp].games (capped by max_games). After
stable_minutes with no reboot, no crash loop and the guard satisfied, the next step is
added. A reboot while ramping means the step was too much for this host: come back one
step lower and remember that step as the host's ceiling; the ramp never climbs past it.
The state is kept in the agent's kv store (engine.py), so it survives the very reboots
it is measuring.

A game that is a part of a job over several hosts (here, or as the ramp would start it)
is left out of what the ramp starts and stops (`left_alone`): every node of its job
must change alike, from the laptop; the ramp says so once in an event.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlroom import protocol
from controlroom.agent.supervision import job_parts
from controlroom.config import RampConfig, Settings
from controlroom.span import Span


def steps(cfg: RampConfig) -> list[list[str]]:
    """Every step's game list, smallest first."""
    top = min(cfg.max_games, len(cfg.games))
    first = min(cfg.start_games, top)
    return [list(cfg.games[:n]) for n in range(first, top + 1)] or [[]]


@dataclass
class RampState:
    """What the ramp remembers between ticks, agent restarts and reboots."""

    enabled: bool = False
    step: int = 0
    ceiling: int | None = None  # the highest step this host held; None = not found yet
    stable_since: float | None = None
    boot_id: str | None = None
    hold: str | None = None  # why the stable window is not counting now
    last_step_at: float | None = None


def left_alone(name: str, st: protocol.GameState | None, settings: Settings) -> str | None:
    """Why the ramp leaves `name` alone (its line, "Pong: part of a job over 2 hosts
    ...; change it from the laptop"), or None: it is a part of a job over several hosts
    here (`st`), or would start as one (`settings`, the ramp's settings for it)."""
    span = job_parts.part_of_job(st) if st is not None else None
    if span is not None:
        return job_parts.skipped(name, span)
    wanted = Span.of(settings)
    return job_parts.skipped(name, wanted) if wanted.spans else None


def top(state: RampState, all_steps: list[list[str]]) -> int:
    """The highest step the ramp may reach: the last one, or the ceiling."""
    last = len(all_steps) - 1
    return last if state.ceiling is None else min(last, state.ceiling)


def enable(state: RampState, all_steps: list[list[str]], now: float, boot_id: str) -> None:
    """Start (or resume) ramping from the current step; the window starts now."""
    state.enabled, state.boot_id, state.hold = True, boot_id, None
    state.step = min(state.step, top(state, all_steps))
    state.stable_since = now


def disable(state: RampState) -> None:
    """Stop stepping; the games of the current step keep running, the ceiling stays."""
    state.enabled, state.stable_since, state.hold = False, None, None


def on_boot(state: RampState, boot_id: str, now: float) -> str | None:
    """On agent start: a new boot id while ramping backs off one step and records it as
    the ceiling. Returns the event message, or None when nothing changed."""
    rebooted = state.boot_id is not None and state.boot_id != boot_id
    state.boot_id = boot_id
    if not (rebooted and state.enabled):
        return None
    failed, state.step = state.step, max(0, state.step - 1)
    state.ceiling = state.step if state.ceiling is None else min(state.ceiling, state.step)
    state.stable_since, state.hold = now, None
    return f"reboot at ramp step {failed}: back to step {state.step}, ceiling recorded"


def tick(
    state: RampState, all_steps: list[list[str]], now: float, stable_s: float, hold: str | None
) -> bool:
    """Advance one step when the window is full; True when it did. `hold` names what
    keeps the window from counting (a crash loop, the guard, games not yet running)."""
    if not state.enabled:
        return False
    state.hold = hold
    if hold is not None or state.stable_since is None:
        state.stable_since = now
        return False
    if state.step >= top(state, all_steps) or now < state.stable_since + stable_s:
        return False
    state.step += 1
    state.stable_since = state.last_step_at = now
    return True


def phase(state: RampState, all_steps: list[list[str]]) -> str:
    """One word for the status line."""
    if not state.enabled:
        return "off"
    if state.step >= top(state, all_steps):
        return (
            "at_ceiling"
            if state.ceiling is not None and (state.ceiling < len(all_steps) - 1)
            else "at_last_step"
        )
    return "holding" if state.hold else "waiting"


def view(state: RampState, all_steps: list[list[str]], stable_s: float) -> protocol.RampView:
    """The ramp as `agent status` and the TUI show it: state, next action and when."""
    ph = phase(state, all_steps)
    nxt = None if state.step + 1 >= len(all_steps) else all_steps[state.step + 1]
    counting = ph == "waiting" and state.stable_since is not None
    return protocol.RampView(
        enabled=state.enabled,
        phase=ph,
        step=state.step,
        steps=len(all_steps),
        games=all_steps[min(state.step, len(all_steps) - 1)],
        ceiling=state.ceiling,
        ceiling_games=None if state.ceiling is None else len(all_steps[state.ceiling]),
        stable_since=state.stable_since,
        stable_s=stable_s,
        hold=state.hold,
        next_action=f"add {nxt[-1]}" if counting and nxt else None,
        next_action_at=(state.stable_since or 0.0) + stable_s if counting and nxt else None,
        last_step_at=state.last_step_at,
    )
