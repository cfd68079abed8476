"""Process settings for a trainer that shares a CPU host: how idle OpenMP threads wait and
how freed tensor memory is kept (neither changes a number the trainer computes), and for a
rank of a torchrun job, that it dies with torchrun and leaves without Python's teardown."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from typing import NoReturn

log = logging.getLogger(__name__)

# glibc's mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Above the largest per-step block on a CPU (a 256-sample chunk of float frames, 29 MB).
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
    """Have glibc keep freed tensor memory in the heap instead of returning it to the kernel.

    Under glibc's default, adaptive thresholds a CPU trainer's large blocks (activations,
    float frames: 5-30 MB each) keep going back to the kernel and return as fresh zero
    pages: 200,000-350,000 minor page faults per 1024-step Pong iteration on the dev VM,
    ~20 % of its time. Fixed thresholds (mmap 64 MiB, trim 256 MiB) bring that to ~0 after
    the first iteration; peak memory is the same. Both must be set: setting either one
    turns off glibc's adaptation of the other (trim alone: more faults than the default).
    False where the C library has no mallopt (musl)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.info("no mallopt in this C library; keeping its default allocator settings")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Have the kernel SIGKILL this rank when its parent, torchrun, dies.

    torchrun starts each rank in a session of its own, so the agent's signal to the job's
    process group reaches torchrun only: a SIGTERM is passed on by torchrun, but after a
    SIGKILL (a hung job, a stop past its grace) the ranks would live on, orphaned, holding
    the run dir. SIGKILL, not SIGTERM: the parent is gone only when the job is being ended
    hard, and a rank blocked in a collective could not act on a SIGTERM anyway."""
    parent = os.getppid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        log.warning("no prctl here: a rank may outlive torchrun if it is killed")
        return
    prctl.argtypes, prctl.restype = [ctypes.c_int, ctypes.c_ulong], ctypes.c_int
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took hold
        os.kill(os.getpid(), signal.SIGKILL)


def leave(code: int) -> NoReturn:
    """End a rank of a torchrun job with `code` once its run is over, without Python's
    interpreter teardown.

    gloo's (and NCCL's) C++ objects keep threads that may still be joinable when the
    interpreter's finalization destroys them, even after destroy_process_group; C++ then
    aborts the process ("terminate called without an active exception", exit -6) after
    the run is over, torchrun reports the job failed, and the agent restarts a job that
    had finished its budget. By the time main() returns, everything the run leaves
    behind is written (the final checkpoint fsynced, the metrics file closed, the run
    dir's lock released), so what is left is to flush the logs and the standard streams
    and exit at once."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe must not change the code
            stream.flush()
    os._exit(code)


def in_job(env: dict[str, str] | None = None) -> bool:
    """Whether this process is a rank of a torchrun job (torchrun sets LOCAL_RANK)."""
    return "LOCAL_RANK" in (os.environ if env is None else env)
