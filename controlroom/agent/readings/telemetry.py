"""Host telemetry every 1-2 s: GPUs (through a GpuReader), CPU, RAM, load, disk.

Samples go to clients as they come, into a ~300-point history for the gauges, and into
the store down-sampled to one row per 30 s.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

import psutil

from controlroom.agent.readings.nvml import GpuReader, GpuReading, process_memory
from controlroom.protocol import Gpu, GpuProcess, History, System

HISTORY_POINTS = 300
STORE_EVERY_S = 30.0
HISTORY_KEYS = ("gpu_util", "gpu_mem", "gpu_temp", "gpu_power", "cpu", "ram")


class Telemetry:
    """Reads the host; keeps the latest reading and a short history."""

    def __init__(self, reader: GpuReader, disk_path: Path) -> None:
        self.reader, self.disk_path = reader, disk_path
        self.history: dict[str, deque[float]] = {
            k: deque(maxlen=HISTORY_POINTS) for k in HISTORY_KEYS
        }
        self.gpus: list[GpuReading] = []
        self.system = System()
        self.last_stored = 0.0
        psutil.cpu_percent(interval=None)  # primes the counter; the first call reads 0

    def sample(self) -> None:
        """Read everything once."""
        try:
            self.gpus = self.reader.read()
        except Exception as exc:  # a GPU falling off the bus must not stop telemetry
            self.gpus, self.reader.error = [], f"GPU read failed: {exc}"
        self.system = read_system(self.disk_path)
        self._remember()

    def _remember(self) -> None:
        g = summarize_gpus(self.gpus)
        values = {
            "gpu_util": g["utilization"],
            "gpu_mem": g["memory_percent"],
            "gpu_temp": g["temperature_c"],
            "gpu_power": g["power_w"],
            "cpu": self.system.cpu_percent or 0.0,
            "ram": 100.0 * (self.system.ram_used or 0) / max(1, self.system.ram_total or 0),
        }
        for key, value in values.items():
            self.history[key].append(round(float(value), 2))

    def due_for_store(self, now: float) -> bool:
        """Whether this sample should be kept in the store (one per 30 s)."""
        if now - self.last_stored < STORE_EVERY_S:
            return False
        self.last_stored = now
        return True

    def stored_sample(self) -> dict[str, float]:
        """The compact row kept in the samples table."""
        return {
            **{k: v[-1] for k, v in self.history.items() if v},
            "gpu_memory_used": summarize_gpus(self.gpus)["memory_used"],
        }

    def gpu_states(self, games_by_pid: dict[int, str]) -> list[Gpu]:
        """Protocol "gpus": per GPU, with processes mapped to games."""
        return [gpu_state(reading, games_by_pid) for reading in self.gpus]

    def memory_by_pid(self) -> dict[int, int]:
        """GPU memory per pid over all GPUs."""
        return process_memory(self.gpus)

    def history_now(self) -> History:
        """Protocol "history"."""
        return History(**{k: list(v) for k, v in self.history.items()})


def gpu_state(reading: GpuReading, games_by_pid: dict[int, str]) -> Gpu:
    """One reading as the protocol's Gpu, its processes attributed to games by pid."""
    return Gpu(
        index=reading.index,
        name=reading.name,
        utilization=reading.utilization,
        memory_used=reading.memory_used,
        memory_total=reading.memory_total,
        temperature_c=reading.temperature_c,
        power_w=reading.power_w,
        power_limit_w=reading.power_limit_w,
        processes=[
            GpuProcess(pid=pid, game=games_by_pid.get(pid), memory_used=used)
            for pid, used in sorted(reading.processes.items())
        ],
    )


def read_system(disk_path: Path) -> System:
    """Protocol "system": CPU, RAM, load average and free disk where the runs live."""
    vm = psutil.virtual_memory()
    try:
        disk_free = psutil.disk_usage(str(disk_path)).free
    except OSError:
        disk_free = 0
    return System(
        cpu_percent=psutil.cpu_percent(interval=None),
        ram_used=vm.total - vm.available,
        ram_total=vm.total,
        load_avg=list(os.getloadavg()),
        disk_free=disk_free,
        cpu_count=psutil.cpu_count() or 1,
    )


def summarize_gpus(gpus: list[GpuReading]) -> dict[str, float]:
    """One number per gauge across all GPUs: mean util, memory %, hottest, total power."""
    if not gpus:
        return {
            "utilization": 0.0,
            "memory_percent": 0.0,
            "temperature_c": 0.0,
            "power_w": 0.0,
            "memory_used": 0,
        }
    used, total = sum(g.memory_used for g in gpus), sum(g.memory_total for g in gpus)
    return {
        "utilization": sum(g.utilization for g in gpus) / len(gpus),
        "memory_percent": 100.0 * used / max(1, total),
        "temperature_c": max(g.temperature_c for g in gpus),
        "power_w": sum(g.power_w for g in gpus),
        "memory_used": used,
    }


def uptime_now(boot_time: float) -> float:
    """Seconds since boot."""
    return max(0.0, time.time() - boot_time)
