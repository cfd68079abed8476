"""The host's telemetry as the agent's decisions read it (placement, the guard, the
policy engine): a leaf of plain types, so the pure policy modules may take it without
importing the agent's state or I/O."""

from __future__ import annotations

from dataclasses import dataclass

from controlroom.protocol import Gpu, System


@dataclass(frozen=True)
class HostReading:
    """The latest telemetry as the protocol sends it: every GPU (its processes
    attributed to games) and the system."""

    gpus: list[Gpu]
    system: System
