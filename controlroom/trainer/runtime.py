"""Process settings for a trainer that shares a CPU host: how idle OpenMP threads wait and
how freed tensor memory is kept. Neither changes a number the trainer computes."""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# glibc's mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Above the largest per-step tensor on a CPU (a 256-sample chunk of float frames, 29 MB).
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20


def passive_openmp() -> None:
    """Make torch's OpenMP threads sleep, not spin, when idle; call before torch loads.

    libgomp reads OMP_WAIT_POLICY once, when torch is imported. Spinning threads take the
    cores envpool's workers and the other trainers on the host need: on the 2-core dev VM
    at load ~3 a Pong run went from ~70 to ~210 steps/s, with identical numbers. A value
    the user set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def keep_freed_memory() -> bool:
    """Have glibc reuse freed tensor memory instead of returning it to the kernel.

    By default glibc serves blocks above ~128 KiB to 32 MiB with fresh mmap()s and gives
    them back on free(), so every minibatch's activations and float frames (5-30 MB each)
    arrive as new zero pages: ~20,000 page faults per Pong minibatch, a quarter of the
    update's time on the dev VM. With these thresholds the heap keeps them for the next
    minibatch; peak memory is the same. False where the C library has no mallopt (musl)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.info("no mallopt in this C library; keeping its default allocator settings")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
