"""A stand-in trainer whose speed and memory are known functions of its num_envs (the
tune tests): it writes metrics lines as the built-in trainer does (time, global_step,
charts/SPS, charts/episodes, sys/rss_bytes), goes on from its last step when started
again (its own small state file: the game's progress), and exits on SIGTERM.

    python tune_fake.py CURVE NUM_ENVS RUN_DIR

CURVE: "peak" (steps/s 1000, 2000, 2100 at 8, 16, 32 envs: the gain dies past 16),
"rising" (100 steps/s per env), "memory" (200 steps/s per env, a third of the host's
RAM per 8 envs reported), "slow" (as "rising", but past 8 envs an update line only every
SLOW_LINE_S: too slow to measure within a rung), "drift" (1000 steps/s at any envs, times
a host that gets faster by the second: 1 + DRIFT_PER_S of each second since the game's
first start, so every later rung looks faster though no shape is).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

LINE_S = 0.2
SLOW_LINE_S = 30.0
WARMUP_S = 0.5
DRIFT_PER_S = 0.1


def curve(name: str, envs: int) -> tuple[float, int]:
    """Steps/s and reported RSS at `envs`."""
    mib = 2**20
    if name == "peak":
        return {8: 1000.0, 16: 2000.0, 32: 2100.0}.get(envs, 1000.0), envs * 10 * mib
    if name == "drift":
        return 1000.0, envs * 10 * mib
    if name == "memory":
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return 200.0 * envs, envs * total // 24
    return 100.0 * envs, envs * 10 * mib


def drift(name: str, run_dir: Path) -> float:
    """The host's speed-up now for the "drift" curve (1 for the others): from the game's
    first start, kept in the run dir."""
    if name != "drift":
        return 1.0
    first = run_dir / "fake_first_start"
    if not first.exists():
        first.write_text(str(time.time()))
    return 1.0 + DRIFT_PER_S * (time.time() - float(first.read_text()))


def main() -> None:
    name, envs, run_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    run_dir.mkdir(parents=True, exist_ok=True)
    state = run_dir / "fake_state.json"
    step = float(json.loads(state.read_text())["step"]) if state.exists() else 0.0
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sps, rss = curve(name, envs)
    every = SLOW_LINE_S if name == "slow" and envs > 8 else LINE_S
    metrics = open(run_dir / "metrics.jsonl", "a")  # noqa: SIM115
    metrics.write(json.dumps({"kind": "start", "time": time.time(), "global_step": step}) + "\n")
    metrics.flush()
    time.sleep(WARMUP_S)  # the first update is slow: the warm-up the tune leaves out
    step += sps * LINE_S * 0.2
    last = reported = next_update = time.time()
    while not stop:
        now = time.time()
        step += sps * drift(name, run_dir) * (now - last)
        last = now
        # Between updates a heartbeat (its step not moving), as the built-in trainer's.
        update = now >= next_update
        if update:
            reported, next_update = step, now + every
        line = {
            "kind": "update" if update else "heartbeat",
            "time": now,
            "global_step": int(reported),
            "charts/SPS": sps,
            "charts/episodes": int(reported // 1000),
            "sys/rss_bytes": rss,
        }
        metrics.write(json.dumps(line) + "\n")
        metrics.flush()
        state.write_text(json.dumps({"step": step}))
        time.sleep(LINE_S)
    state.write_text(json.dumps({"step": step}))


if __name__ == "__main__":
    main()
