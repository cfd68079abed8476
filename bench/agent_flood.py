"""Flood figure, printed (not asserted): ping latency and agent RSS while N local clients
each pipeline 20,000 `status` requests (issue 10, item 3).

    .venv/bin/python bench/agent_flood.py [--clients 1 4 8] [--requests 20000]

A real agent subprocess on a temporary state dir, with 8 games whose trainer is a
sleeping stand-in (so `status` carries 8 game states and no CPU goes to training). Each
flooding client sends its requests in one go from one thread and reads every reply in
another; a separate client pings every 50 ms meanwhile. The issue measured, before the
per-client bounds: 8 clients -> ping 24 s, supervision stalled, RSS 390-470 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from machine import cpu_model  # bench/ is this script's directory

from controlroom import protocol
from controlroom.games import known_names
from tests.agent.harness import AgentHarness

SLEEPER = [sys.executable, "-c", "import time; time.sleep(3600)"]


class Flood:
    """One client: sends `count` status requests at once, reads until all replies came."""

    def __init__(self, path: Path, count: int) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(str(path))
        self.payload = b"".join(
            protocol.encode(protocol.request(i, "status")) for i in range(count)
        )
        self.count, self.replies, self.dropped = count, 0, False
        self.started = self.finished = 0.0
        self.threads = [threading.Thread(target=self._send), threading.Thread(target=self._read)]

    def start(self) -> None:
        self.started = time.perf_counter()
        for t in self.threads:
            t.start()

    def _send(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(self.payload)

    def _read(self) -> None:
        reader = self.sock.makefile("rb")
        try:
            while self.replies < self.count:
                line = reader.readline(protocol.MAX_LINE_BYTES + 1)
                if not line:
                    self.dropped = True
                    break
                self.replies += line.startswith(b'{"type":"reply"')
        except OSError:
            self.dropped = True
        self.finished = time.perf_counter()

    def join(self) -> None:
        for t in self.threads:
            t.join()
        self.sock.close()


def machine() -> str:
    model = cpu_model()
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def one_round(root: Path, clients: int, requests: int) -> None:
    agent = AgentHarness(root)
    agent.write_config(trainer={"command": SLEEPER})
    try:
        agent.start()
        for game in known_names()[:8]:
            agent.call("add_game", game=game)
        proc = psutil.Process(agent.proc.pid)  # type: ignore[union-attr]
        time.sleep(1.0)
        before = proc.memory_info().rss
        floods = [Flood(agent.state_dir / "agent.sock", requests) for _ in range(clients)]
        pings, peak, stale = [], before, 0.0
        with agent.client() as c:
            for f in floods:
                f.start()
            while any(f.finished == 0.0 for f in floods):
                start = time.perf_counter()
                c.call("ping")
                pings.append(time.perf_counter() - start)
                beat = c.call("reboots")["boots"][-1]["last_heartbeat"]
                stale = max(stale, time.time() - beat)
                peak = max(peak, proc.memory_info().rss)
                time.sleep(0.05)
        for f in floods:
            f.join()
        time.sleep(1.0)
        after = proc.memory_info().rss
        took = max(f.finished for f in floods) - min(f.started for f in floods)
        served = sum(f.replies for f in floods)
        pings.sort()
        print(
            f"{clients} client(s) x {requests} status: {served} replies in {took:.1f}s "
            f"({served / took:.0f}/s), {sum(f.dropped for f in floods)} dropped; ping "
            f"median {statistics.median(pings) * 1000:.1f} ms, p99 "
            f"{pings[int(len(pings) * 0.99)] * 1000:.1f} ms, max {pings[-1] * 1000:.1f} ms "
            f"({len(pings)} pings); heartbeat age max {stale:.1f}s (every 0.5 s); agent RSS "
            f"{before >> 20} -> peak {peak >> 20} -> after {after >> 20} MiB",
            flush=True,
        )
    finally:
        agent.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    print(machine())
    for n in args.clients:
        with tempfile.TemporaryDirectory() as tmp:
            one_round(Path(tmp), n, args.requests)


if __name__ == "__main__":
    main()
