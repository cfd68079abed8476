"""Which GPUs a game trains on: pure decisions from the host's readings, no I/O.

A game asks for a count (`gpus = N`: the agent picks) or pinned devices (`gpus = [1]`:
config wins). A device takes a game only if its memory stays within the guard's per-GPU
budget (`max_gpu_memory_fraction`) with the game's expected memory on it, and only if
it is under the guard's `max_gpu_temp_c`; among those,
the one with the fewest of our trainers, then the most free memory, wins. The game's
previous devices are kept when they still fit (a restart, a reboot: same GPU when
free). When nothing fits, the refusal names the GPU and by how much.

A device's load counts what its reading shows plus what games placed on it will still
allocate (a trainer just started holds no memory yet), so two games placed a second
apart do not land on the same empty GPU. The readings and the games come as the
protocol's Structs (telemetry's Gpus, GameStates), like the guard's inputs.

A host that reads no GPU at all is either without GPUs by design (a CPU box, a laptop
under `controlroom local`, the tests' gloo jobs) or one whose NVIDIA driver went away;
NVML fails alike on both. The game decides (no_gpu_read): one never placed on a GPU here
with `device = "auto"` trains on the CPU at any world size, as it always did; one that
was placed on GPUs here (its stored placement: the host had them), is pinned, or is set
to `device = "cuda"` waits for them, as a game waits on a host with fewer GPUs than it
needs, saying so. `device = "cpu"` runs it on the CPU anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from controlroom.agent.readings.reading import HostReading
from controlroom.config import Settings
from controlroom.gpus import pinned_gpus, world_size
from controlroom.protocol import GameState, Gpu

GIB = 1 << 30
# Games in these states hold (or are about to hold) a trainer, its envs and its GPU
# memory (the guard counts the same ones).
ACTIVE_STATES = frozenset({"starting", "running", "backoff", "hung", "crashed"})


@dataclass(frozen=True)
class Device:
    """One GPU as placement sees it: bytes in use (our games' promised memory included)
    and our trainers on it."""

    index: int
    used: int
    total: int
    trainers: int = 0
    temp_c: float | None = None

    def fraction_with(self, need: int) -> float:
        """Its memory share with `need` more bytes on it."""
        return (self.used + need) / self.total if self.total else 0.0

    def too_hot(self, max_temp_c: float) -> bool:
        """At or past the guard's temperature limit: it takes nothing more."""
        return self.temp_c is not None and self.temp_c >= max_temp_c


@dataclass(frozen=True)
class Placement:
    """The devices chosen (empty: no GPU on this host), or why none would do."""

    gpus: tuple[int, ...] = ()
    refusal: str | None = None


def place(
    game: str,
    settings: Settings,
    devices: Sequence[Device],
    *,
    need: int,
    budget: float,
    preferred: Sequence[int] = (),
    max_temp_c: float = math.inf,
) -> Placement:
    """Where `game` runs with `settings`, needing `need` bytes on each of its devices
    within the memory `budget` (a share), on GPUs under `max_temp_c`. A host without
    GPUs, or a game set to `device = "cpu"`, places nothing (it trains on the CPU)."""
    if not devices or settings.get("device") == "cpu":
        return Placement()
    by_index = {d.index: d for d in devices}
    pinned = pinned_gpus(settings)
    if pinned is not None:
        return _pinned(game, pinned, by_index, need=need, budget=budget, max_temp_c=max_temp_c)
    count = world_size(settings)
    if count > len(devices):
        return Placement(
            refusal=f"refused: {game} asks for {count} GPUs; this host has {len(devices)}"
        )
    fitting = [d for d in devices if _fits(d, need, budget, max_temp_c)]
    kept = [by_index[i] for i in preferred if i in by_index]
    if len(kept) == count and all(d in fitting for d in kept):
        return Placement(tuple(sorted(d.index for d in kept)))
    if len(fitting) < count:
        return Placement(
            refusal=_no_room(
                game, count, fitting, devices, need=need, budget=budget, max_temp_c=max_temp_c
            )
        )
    best = sorted(fitting, key=lambda d: (d.trainers, d.used - d.total, d.index))[:count]
    return Placement(tuple(sorted(d.index for d in best)))


def place_anyway(
    game: str,
    settings: Settings,
    devices: Sequence[Device],
    *,
    need: int,
    budget: float,
    preferred: Sequence[int] = (),
    max_temp_c: float = math.inf,
) -> tuple[int, ...]:
    """A trainer (re)starting that the guard already let in: where `place` would put it,
    else its pinned or previous devices, else the emptiest ones. Its start is never
    refused here; the guard's running check pauses it if the host is over a limit."""
    decided = place(
        game,
        settings,
        devices,
        need=need,
        budget=budget,
        preferred=preferred,
        max_temp_c=max_temp_c,
    )
    if decided.refusal is None:
        return decided.gpus
    present = {d.index for d in devices}
    pinned = pinned_gpus(settings)
    if pinned is not None:
        return tuple(sorted(i for i in pinned if i in present))
    count = min(world_size(settings), len(devices))
    kept = sorted(i for i in preferred if i in present)
    if len(kept) == count:
        return tuple(kept)
    emptiest = sorted(devices, key=lambda d: (d.fraction_with(0), d.trainers, d.index))
    return tuple(sorted(d.index for d in emptiest[:count]))


def shortfall(
    game: str, settings: Settings, devices: Sequence[Device], previous: Sequence[int] = ()
) -> str | None:
    """Why `game` cannot start on the GPUs this host reads now: more than it has (a host
    that lost a GPU), a pinned GPU that is gone, or none at all for a game that needs
    GPUs (no_gpu_read). Starting it on fewer would only crash-loop its ranks or crawl
    on the CPU, so it waits for them. None when it can start (or trains on the CPU: a
    game set to `device = "cpu"`, a host without GPUs by design)."""
    if settings.get("device") == "cpu":
        return None
    if not devices:
        return no_gpu_read(game, settings, previous)
    present = sorted(d.index for d in devices)
    have = f"{len(present)} ({_gpu_list(present)})"
    pinned = pinned_gpus(settings)
    if pinned is not None:
        gone = [i for i in pinned if i not in present]
        if not gone:
            return None
        return (
            f"{game} is pinned to {_gpu_list(pinned)}; {_gpu_list(gone)} gone: this host has {have}"
        )
    count = world_size(settings)
    if count <= len(present):
        return None
    return f"{game} needs {count} GPUs; this host has {have}"


def no_gpu_read(game: str, settings: Settings, previous: Sequence[int]) -> str | None:
    """Why `game` waits on a host that reads no GPU at all, or None when it trains on
    the CPU. Such a host is either one without GPUs by design (a laptop, a CPU box, the
    tests' gloo jobs: every game trains on the CPU, as always) or one whose driver went
    away. The game tells them apart: one that needs a GPU (`device = "cuda"`), is pinned
    to GPUs, or was placed on GPUs here before (`previous`, kept in the store: this host
    had them) waits for them; one never placed on a GPU, with `device = "auto"`, trains
    on the CPU."""
    device = str(settings.get("device", "auto"))
    pinned = pinned_gpus(settings)
    if pinned:
        why = f"is pinned to {_gpu_list(pinned)}"
    elif previous:
        why = f"ran on {_gpu_list(sorted(previous))} here"
    elif device.startswith("cuda"):
        why = f"is set to device {device}"
    else:
        return None
    count = world_size(settings)
    return (
        f"{game} needs {count} GPU{'s' if count > 1 else ''} (it {why}); this host reads "
        f'no GPU (driver gone?): set device = "cpu" to train it on the CPU'
    )


def _gpu_list(indices: Sequence[int]) -> str:
    return f"GPU {indices[0]}" if len(indices) == 1 else f"GPUs {_join(list(indices))}"


def _fits(device: Device, need: int, budget: float, max_temp_c: float) -> bool:
    return device.fraction_with(need) <= budget and not device.too_hot(max_temp_c)


def _pinned(
    game: str,
    pinned: list[int],
    by_index: dict[int, Device],
    *,
    need: int,
    budget: float,
    max_temp_c: float,
) -> Placement:
    missing = [i for i in pinned if i not in by_index]
    if missing:
        have = f"GPUs 0-{max(by_index)}" if len(by_index) > 1 else f"GPU {min(by_index)}"
        return Placement(
            refusal=f"refused: {game} is pinned to GPU {_join(missing)}, which this host "
            f"does not have (it has {have})"
        )
    for index in pinned:
        over = _problem(by_index[index], need, budget, max_temp_c)
        if over is not None:
            return Placement(refusal=f"refused: {game} is pinned to GPU {index}: {over}")
    return Placement(tuple(sorted(pinned)))


def _no_room(
    game: str,
    count: int,
    fitting: list[Device],
    devices: Sequence[Device],
    *,
    need: int,
    budget: float,
    max_temp_c: float,
) -> str:
    emptiest = min(
        (d for d in devices if d not in fitting),
        key=lambda d: (d.too_hot(max_temp_c), d.fraction_with(need), d.index),
    )
    ask = f"{count} GPUs" if count > 1 else "a GPU"
    room = f"; only GPU {_join([d.index for d in fitting])} has room" if fitting else ""
    return (
        f"refused: no room for {game} ({_gib(need)} on {ask}) within "
        f"max_gpu_memory_fraction {budget * 100:.0f}%{room}: the emptiest other, "
        f"GPU {emptiest.index}, {_problem(emptiest, need, budget, max_temp_c)}"
    )


def _problem(device: Device, need: int, budget: float, max_temp_c: float) -> str | None:
    """Why `device` cannot take `need` more bytes (memory first), or None."""
    if device.too_hot(max_temp_c):
        return f"temperature {device.temp_c:.0f}C >= max_gpu_temp_c {max_temp_c:g}"
    return _overfill(device, need, budget)


def _overfill(device: Device, need: int, budget: float) -> str | None:
    after = device.fraction_with(need)
    if after <= budget:
        return None
    return (
        f"memory would be {after * 100:.0f}% > max_gpu_memory_fraction {budget * 100:.0f}% "
        f"({_gib(device.used)} used + {_gib(need)} of {_gib(device.total)})"
    )


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _join(indices: list[int]) -> str:
    return ",".join(map(str, indices))


# ---- the inputs, from the protocol's GPUs and GameStates ------------------------------
def devices_from(
    gpus: list[Gpu], games: dict[str, GameState], exclude: str | None = None
) -> list[Device]:
    """Every GPU with its load: the reading, less the memory of `exclude` (the game
    being placed: it stops before it starts again), plus what each active game placed
    on it is expected to hold but does not show yet."""
    per_env = bytes_per_env(games)
    out = []
    for reading in gpus:
        index = reading.index
        on_it = {n: s for n, s in games.items() if n != exclude and _active(s) and index in s.gpus}
        shown = _shown_by_game(reading)
        used = reading.memory_used - shown.get(exclude or "", 0)
        pending = sum(
            max(0, expected(s.settings, per_env) - shown.get(n, 0)) for n, s in on_it.items()
        )
        temp = float(reading.temperature_c)
        out.append(Device(index, used + pending, reading.memory_total, len(on_it), temp))
    return out


def inputs(
    game: str, settings: Settings, games: dict[str, GameState], telemetry: HostReading
) -> tuple[list[Device], int]:
    """What `place` needs to place `game` (running or not) with `settings`: every GPU's
    load without the game's own, and the bytes it is expected to need on each GPU."""
    devices = devices_from(telemetry.gpus, games, exclude=game)
    return devices, expected(settings, bytes_per_env(games))


def bytes_per_env(games: dict[str, GameState]) -> float:
    """Measured GPU memory per env and device over the games that report it (0 when none
    does yet: then only the memory a device shows counts)."""
    pairs = [
        (s.gpu_memory_used, _envs(s.settings) * max(1, len(s.gpus)))
        for s in games.values()
        if _active(s) and s.gpu_memory_used
    ]
    envs = sum(e for _, e in pairs)
    return sum(m for m, _ in pairs) / envs if envs else 0.0


def expected(settings: Settings, per_env: float) -> int:
    """Bytes a game with `settings` is expected to hold on each of its devices."""
    return int(per_env * _envs(settings))


def _shown_by_game(reading: Gpu) -> dict[str, int]:
    out: dict[str, int] = {}
    for proc in reading.processes:
        if proc.game:
            out[proc.game] = out.get(proc.game, 0) + proc.memory_used
    return out


def _envs(settings: Settings) -> int:
    return int(settings.get("num_envs") or 0)


def _active(state: GameState) -> bool:
    return state.wanted and state.state in ACTIVE_STATES
