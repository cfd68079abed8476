"""What watching a policy play costs the link: frames/s and bytes/s of the `watch` op.

A real agent on a temporary state dir, a Pong run with one checkpoint (an untrained
policy: its games are long, so the stream runs the whole measurement), and a client
polling `watch` at the stream's frame rate as the TUI's watch screen does. Bytes are the
reply lines as sent on the socket (what SSH then carries, before its compression).

    python bench/watch_bytes.py [--seconds 30] [--game Pong]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controlroom import protocol
from tests.agent.harness import AgentHarness
from tests.trainer.helpers import TINY_PONG, run_trainer


def measure(agent: AgentHarness, game: str, seconds: float) -> dict[str, float]:
    """Poll one stream for `seconds`; frames and bytes received, and the poll count."""
    with agent.client() as c:
        first = c.call_as(protocol.WatchFrames, "watch", game=game)
        cursor, frames, wire, polls, sizes = -1, 0, 0, 0, []
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            reply = c.call("watch", game=game, stream=first.stream, after=cursor)
            wire += len(json.dumps({"type": "reply", "id": 1, "ok": True, "result": reply})) + 1
            polls += 1
            for f in reply["frames"]:
                cursor, frames = f["i"], frames + 1
                sizes.append(len(f["png"]))
            if reply["done"]:
                break
            time.sleep(1 / first.fps)
        elapsed = time.monotonic() - started
        c.call("watch", game=game, stream=first.stream, stop=True)
    return {
        "seconds": elapsed,
        "polls_per_s": polls / elapsed,
        "frames_per_s": frames / elapsed,
        "bytes_per_s": wire / elapsed,
        "frame_b64_median": statistics.median(sizes) if sizes else 0.0,
        "frame_b64_max": max(sizes) if sizes else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--game", default="Pong")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="watch_bytes-"))
    agent = AgentHarness(root)
    run = agent.state_dir / "runs" / args.game
    done = run_trainer(run, "--game", args.game, *TINY_PONG[2:], "--total-steps", "32")
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    agent.start()
    try:
        figures = measure(agent, args.game, args.seconds)
    finally:
        agent.close()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load}")
    print(
        f"{args.game}: {figures['frames_per_s']:.1f} frames/s over {figures['seconds']:.0f} s "
        f"({figures['polls_per_s']:.1f} polls/s, target {protocol.WATCH_FPS:g}); "
        f"{figures['bytes_per_s'] / 1024:.1f} KiB/s on the wire; frame (PNG, base64) median "
        f"{figures['frame_b64_median'] / 1024:.2f} KiB, "
        f"max {figures['frame_b64_max'] / 1024:.2f} KiB"
    )


if __name__ == "__main__":
    main()
