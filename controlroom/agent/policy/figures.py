"""Pure figures of settings and trials: the shape of settings (what changes speed and
load), a trial's measured figures, the side-by-side comparison and its one-line summary.

Pure: no I/O and nothing stateful; beside, trial, actions, profiles, speeds and the
engine all take their shapes and comparisons from here.
"""

from __future__ import annotations

from typing import Any, Protocol

from controlroom.protocol import GameState

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


def shape_from(section: Shaped) -> dict[str, int]:
    """A config section's shape as settings."""
    return {
        "num_envs": section.num_envs,
        "num_steps": section.num_steps,
        "minibatch_size": section.minibatch_size,
    }


def shape(settings: dict[str, Any]) -> tuple[int, int, int]:
    """The settings that change speed and load, as a comparable tuple."""
    return (
        int(settings.get("num_envs") or 0),
        int(settings.get("num_steps") or 0),
        int(settings.get("minibatch_size") or 0),
    )


def shape_of(settings: dict[str, Any]) -> dict[str, Any]:
    """The shape keys of `settings` (None where missing), for events and trial records."""
    return {k: settings.get(k) for k in SHAPE_KEYS}


def shape_present(settings: dict[str, Any]) -> dict[str, Any]:
    """Only the shape keys `settings` has."""
    return {k: settings[k] for k in SHAPE_KEYS if k in settings}


def measure(st: GameState, gpu_temp_c: float | None) -> dict[str, Any]:
    """The figures a trial compares, from a GameState and the GPU temperature now."""
    m = st.metrics or {}
    return {
        "episodes_per_hour": m.get("episodes_per_hour"),
        "sps": m.get("sps"),
        "gpu_memory_used": st.gpu_memory_used,
        "gpu_temp_c": gpu_temp_c,
        "episodes": m.get("episodes"),
        "settings": shape_of(st.settings),
    }


def compare(before: dict[str, Any] | None, during: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per figure: current settings vs the candidate."""
    b, t = before or {}, during or {}
    rows = [{"figure": "settings", "current": b.get("settings"), "trial": t.get("settings")}]
    return rows + [{"figure": f, "current": b.get(f), "trial": t.get(f)} for f in FIGURES]


def summary(rows: list[dict[str, Any]]) -> str:
    """'episodes_per_hour 20 -> 782, sps ...' for the event line."""

    def fmt(v: Any) -> str:
        return "?" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)

    return ", ".join(
        f"{r['figure']} {fmt(r['current'])} -> {fmt(r['trial'])}"
        for r in rows
        if r["figure"] != "settings"
    )
