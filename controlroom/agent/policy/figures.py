"""Pure figures of settings and trials: the shape of settings (what changes speed and
load), a trial's measured figures, the side-by-side comparison and its one-line summary.

Pure: no I/O and nothing stateful; beside, trial, actions, profiles, speeds and the
engine all take their shapes and comparisons from here.
"""

from __future__ import annotations

from typing import Protocol

from controlroom import protocol
from controlroom.config import Settings
from controlroom.protocol import ComparisonRow, GameState, Shape, TrialFigures

SHAPE_KEYS = ("num_envs", "num_steps", "minibatch_size")
FIGURES = ("episodes_per_hour", "sps", "gpu_memory_used", "gpu_temp_c")


class Shaped(Protocol):
    """A config section that sets a shape ([ramp], a [profiles.X])."""

    @property
    def num_envs(self) -> int:
        """Envs per game."""
        ...

    @property
    def num_steps(self) -> int:
        """Rollout steps per env."""
        ...

    @property
    def minibatch_size(self) -> int:
        """PPO minibatch."""
        ...


def shape_from(section: Shaped) -> Settings:
    """A config section's shape as settings."""
    return {
        "num_envs": section.num_envs,
        "num_steps": section.num_steps,
        "minibatch_size": section.minibatch_size,
    }


def shape(settings: Settings) -> tuple[int, int, int]:
    """The settings that change speed and load, as a comparable tuple."""
    return (
        int(settings.get("num_envs") or 0),
        int(settings.get("num_steps") or 0),
        int(settings.get("minibatch_size") or 0),
    )


def shape_of(settings: Settings) -> Shape:
    """The shape keys of `settings` (None where missing), for trial records."""
    return Shape(
        num_envs=settings.get("num_envs"),
        num_steps=settings.get("num_steps"),
        minibatch_size=settings.get("minibatch_size"),
    )


def shape_data(settings: Settings) -> Settings:
    """The shape keys of `settings` (None where missing) as settings: what an event's
    data and message show."""
    return protocol.plain(shape_of(settings))


def shape_present(settings: Settings) -> Settings:
    """Only the shape keys `settings` has."""
    return {k: settings[k] for k in SHAPE_KEYS if k in settings}


def measure(st: GameState, gpu_temp_c: float | None) -> TrialFigures:
    """The figures a trial compares, from a GameState and the GPU temperature now."""
    m = st.metrics or {}
    return TrialFigures(
        episodes_per_hour=m.get("episodes_per_hour"),
        sps=m.get("sps"),
        gpu_memory_used=st.gpu_memory_used,
        gpu_temp_c=gpu_temp_c,
        episodes=m.get("episodes"),
        settings=shape_of(st.settings),
    )


def compare(before: TrialFigures | None, during: TrialFigures | None) -> list[ComparisonRow]:
    """One row per figure: current settings vs the candidate."""
    rows = [
        ComparisonRow(
            figure="settings",
            current=before.settings if before else None,
            trial=during.settings if during else None,
        )
    ]
    return rows + [
        ComparisonRow(
            figure=f,
            current=getattr(before, f) if before else None,
            trial=getattr(during, f) if during else None,
        )
        for f in FIGURES
    ]


def summary(rows: list[ComparisonRow]) -> str:
    """'episodes_per_hour 20 -> 782, sps ...' for the event line."""

    def fmt(v: Shape | float | None) -> str:
        return "?" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)

    return ", ".join(
        f"{r.figure} {fmt(r.current)} -> {fmt(r.trial)}" for r in rows if r.figure != "settings"
    )
