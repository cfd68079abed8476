"""GameStates and GPU readings for tests of the code that reads them (guard, placement,
queue, profiles): the protocol's Structs with only what a test names, the rest at their
defaults."""

from __future__ import annotations

from typing import Any

from controlroom.agent.readings.reading import HostReading
from controlroom.config import Settings
from controlroom.protocol import (
    Checkpoint,
    GameState,
    GameStatus,
    Gpu,
    GpuProcess,
    JSONObject,
    System,
)

GIB = 1 << 30


def game_state(
    settings: Settings | None = None,
    *,
    state: str = "running",
    wanted: bool = True,
    game: str = "G",
    metrics: JSONObject | None = None,
    checkpoint: Checkpoint | None = None,
    **more: Any,
) -> GameState:
    """A GameState: `state` one of protocol.GAME_STATES, `more` any other field."""
    return GameState(
        game=game,
        env_id=None,
        wanted=wanted,
        state=GameStatus(state),
        settings=dict(settings or {}),
        metrics=metrics,
        checkpoint=checkpoint,
        **more,
    )


def gpu(
    index: int = 0,
    *,
    used: int = 0,
    total: int = 80 * GIB,
    temp: float = 50.0,
    processes: dict[str, int] | None = None,
) -> Gpu:
    """One GPU's reading; `processes` maps a game to the memory its process holds."""
    procs = [
        GpuProcess(pid=pid, game=game, memory_used=memory)
        for pid, (game, memory) in enumerate((processes or {}).items(), start=100)
    ]
    return Gpu(
        index=index,
        name="Test GPU",
        utilization=0.0,
        memory_used=used,
        memory_total=total,
        temperature_c=temp,
        power_w=0.0,
        power_limit_w=0.0,
        processes=procs,
    )


def host(*gpus: Gpu, ram_used: int = GIB, ram_total: int = 100 * GIB) -> HostReading:
    """The telemetry the agent hands its policy: these GPUs and the host's RAM."""
    return HostReading(gpus=list(gpus), system=System(ram_used=ram_used, ram_total=ram_total))
