"""GPU readings behind a small interface: real NVML in the product, recordings in tests.

`NvmlReader` is the product path. `NoGpuReader` stands in when NVML cannot start (no
NVIDIA driver) and keeps the reason for the snapshot. `RecordedReader` replays readings
from a JSON file named by $CONTROLROOM_FAKE_GPU: a test-only seam, never chosen unless
that variable is set.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from controlroom.protocol import JSONObject

log = logging.getLogger(__name__)

FAKE_GPU_ENV = "CONTROLROOM_FAKE_GPU"


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment (bytes, percent, Celsius, watts)."""

    index: int
    name: str
    utilization: float
    memory_used: int
    memory_total: int
    temperature_c: float
    power_w: float
    power_limit_w: float
    processes: dict[int, int] = field(default_factory=dict)  # pid -> GPU memory bytes


class GpuReader(Protocol):
    """Anything that can say what the GPUs are doing."""

    error: str | None

    def read(self) -> list[GpuReading]:
        """Every GPU now."""
        ...

    def close(self) -> None:
        """Release the library."""
        ...


def process_memory(readings: list[GpuReading]) -> dict[int, int]:
    """GPU memory per pid, summed over every GPU."""
    out: dict[int, int] = {}
    for reading in readings:
        for pid, used in reading.processes.items():
            out[pid] = out.get(pid, 0) + used
    return out


class NoGpuReader:
    """No GPU can be read; `error` says why."""

    def __init__(self, error: str) -> None:
        self.error: str | None = error

    def read(self) -> list[GpuReading]:
        """Nothing."""
        return []

    def close(self) -> None:
        """Nothing to release."""


class NvmlReader:
    """The real thing: pynvml (nvidia-ml-py)."""

    def __init__(self) -> None:
        import pynvml

        self._nv: Any = pynvml
        pynvml.nvmlInit()
        self.error: str | None = None
        self._handles = [
            pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
        ]

    def read(self) -> list[GpuReading]:
        """Every GPU now; a field the driver will not give reads as 0."""
        return [self._one(i, h) for i, h in enumerate(self._handles)]

    def _memory(self, handle: Any) -> Any:
        """The v2 reading, whose `used` leaves out the driver's reserved memory as
        nvidia-smi does (v1's counted it: 4451 MiB against smi's 3836 on an H200, driver
        580); v1 where the driver or binding has no v2."""
        nv = self._nv
        try:
            return nv.nvmlDeviceGetMemoryInfo(handle, version=nv.nvmlMemory_v2)
        except (AttributeError, TypeError, nv.NVMLError):
            return nv.nvmlDeviceGetMemoryInfo(handle)

    def _one(self, index: int, handle: Any) -> GpuReading:
        nv = self._nv
        mem = self._try(lambda: self._memory(handle), None)
        return GpuReading(
            index=index,
            name=str(self._try(lambda: nv.nvmlDeviceGetName(handle), "GPU")),
            utilization=float(self._try(lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu, 0)),
            memory_used=int(mem.used) if mem else 0,
            memory_total=int(mem.total) if mem else 0,
            temperature_c=float(
                self._try(lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU), 0)
            ),
            power_w=self._try(lambda: nv.nvmlDeviceGetPowerUsage(handle), 0) / 1000.0,
            power_limit_w=self._try(lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle), 0) / 1e3,
            processes=self._processes(handle),
        )

    def _processes(self, handle: Any) -> dict[int, int]:
        nv, out = self._nv, dict[int, int]()
        for getter in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            for proc in self._try(lambda g=getter: getattr(nv, g)(handle), []):
                used = proc.usedGpuMemory
                out[int(proc.pid)] = out.get(int(proc.pid), 0) + (int(used) if used else 0)
        return out

    def _try(self, fn: Any, default: Any) -> Any:
        # One unsupported query (power on some boards) must not hide the others.
        try:
            return fn()
        except self._nv.NVMLError:
            return default

    def close(self) -> None:
        """Shut NVML down."""
        try:
            self._nv.nvmlShutdown()
        except self._nv.NVMLError:
            log.debug("nvmlShutdown failed", exc_info=True)


class RecordedReader:
    """Test-only: replays a JSON list of readings (or of lists of readings, in a loop).
    A rewritten file is read again: a test changes the host under a running agent (a
    GPU lost, then back)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._frames: list[list[JSONObject]] = []  # raw rows, read by _reading
        self._mtime_ns = -1
        self._next = 0
        self.error: str | None = None
        self._load()

    def _load(self) -> None:
        mtime_ns = self._path.stat().st_mtime_ns
        if mtime_ns == self._mtime_ns:
            return
        frames = json.loads(self._path.read_text())
        if frames and isinstance(frames[0], dict):
            frames = [frames]
        self._frames, self._mtime_ns, self._next = frames, mtime_ns, 0

    def read(self) -> list[GpuReading]:
        """The next recorded frame."""
        self._load()
        if not self._frames:
            return []
        frame = self._frames[self._next % len(self._frames)]
        self._next += 1
        return [_reading(d) for d in frame]

    def close(self) -> None:
        """Nothing to release."""


def _reading(d: JSONObject) -> GpuReading:
    procs = {int(pid): int(mem) for pid, mem in d.get("processes", {}).items()}
    return GpuReading(**{**d, "processes": procs})


def open_reader() -> GpuReader:
    """The recorded reader when the test seam is set, else NVML, else no GPU."""
    fake = os.environ.get(FAKE_GPU_ENV)
    if fake:
        log.warning("GPU readings replayed from %s (%s: test only)", fake, FAKE_GPU_ENV)
        return RecordedReader(Path(fake))
    try:
        return NvmlReader()
    except ImportError:
        return NoGpuReader("nvidia-ml-py is not installed")
    except Exception as exc:  # pynvml raises its own NVMLError subclasses; all mean no GPU
        return NoGpuReader(_nvml_reason(exc))


def _nvml_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if "LibraryNotFound" in name or "DriverNotLoaded" in name:
        return "no NVIDIA driver"
    return f"NVML unavailable: {exc}"
