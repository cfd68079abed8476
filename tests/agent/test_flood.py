"""A flood from one local client (or several) never stalls the agent for the others.

Issue 10, item 3: 8 clients pipelining 20,000 `status` each made a ping take 24 s and
grew the agent to ~470 MiB. Each client now has a bound on requests in flight (the agent
stops reading from it) and on bytes queued for it (it is dropped past the cap).
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time

import psutil

from controlroom import protocol
from tests.agent.harness import AgentHarness

PINGS = 20


class Flooder:
    """A hostile local client in threads: it pipelines `status` requests as fast as the
    socket takes them until stopped, reconnecting whenever the agent drops it; if
    `reads`, it drains what comes back (else it never reads a byte)."""

    def __init__(self, agent: AgentHarness, *, reads: bool) -> None:
        self.path = str(agent.state_dir / "agent.sock")
        self.reads = reads
        self.stopping = threading.Event()
        self.sent = self.received = self.connections = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(2)
            reader = threading.Thread(target=self._read, args=(sock,), daemon=True)
            try:
                sock.connect(self.path)
                self.connections += 1
                if self.reads:
                    reader.start()
                while not self.stopping.is_set():
                    sock.sendall(BURST)
                    self.sent += BURST_LINES
            except OSError:
                pass  # dropped (or a send timed out): connect again, as a hostile client would
            finally:
                sock.close()
                if reader.is_alive():
                    reader.join(5)

    def _read(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := sock.recv(1 << 20):
                self.received += len(chunk)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)


BURST_LINES = 2000
BURST = b"".join(protocol.encode(protocol.request(i, "status")) for i in range(BURST_LINES))


def p90(times: list[float]) -> float:
    return sorted(times)[int(len(times) * 0.9)]


def rss(agent: AgentHarness) -> int:
    assert agent.proc is not None
    return int(psutil.Process(agent.proc.pid).memory_info().rss)


def flood_and_measure(
    agent: AgentHarness, flooders: int, reads: bool
) -> tuple[list[float], int, float]:
    """Ping latencies during the flood, the agent's peak RSS, and the oldest heartbeat
    seen during it (supervision's loop writes one every 0.5 s here)."""
    agent.start()
    peak, stale = 0, 0.0
    with agent.client() as c:  # connected before the flood, as a TUI would be
        floods = [Flooder(agent, reads=reads) for _ in range(flooders)]
        try:
            time.sleep(0.3)  # let the flood get going
            times = []
            for _ in range(PINGS):
                start = time.perf_counter()
                c.call("ping")
                times.append(time.perf_counter() - start)
                peak = max(peak, rss(agent))
                beat = c.call("reboots")["boots"][-1]["last_heartbeat"]
                stale = max(stale, time.time() - beat)
                time.sleep(0.1)
        finally:
            for f in floods:
                f.close()
    assert sum(f.sent for f in floods) > 4 * BURST_LINES  # it was a flood
    assert agent.call("ping")["pong"] is True  # and it still serves afterwards
    print(
        f"ping ms: {sorted(round(t * 1000, 1) for t in times)}; peak RSS {peak >> 20} MiB; "
        f"heartbeat age up to {stale:.1f}s; {sum(f.connections for f in floods)} flood "
        f"connections, {sum(f.sent for f in floods)} lines"
    )
    return times, peak, stale


def test_one_flooding_client_leaves_another_ping_fast(agent: AgentHarness) -> None:
    times, peak, stale = flood_and_measure(agent, flooders=1, reads=True)
    assert statistics.median(times) < 0.1 and p90(times) < 0.1, times
    assert peak < 150 * 2**20, peak / 2**20
    assert stale < 3.0  # supervision kept its pace


def test_several_flooders_that_never_read_are_bounded(agent: AgentHarness) -> None:
    times, peak, stale = flood_and_measure(agent, flooders=4, reads=False)
    assert statistics.median(times) < 0.1 and p90(times) < 0.1, times
    assert peak < 150 * 2**20, peak / 2**20
    assert stale < 3.0


def test_several_reading_flooders_leave_supervision_and_ping_alone(agent: AgentHarness) -> None:
    times, peak, stale = flood_and_measure(agent, flooders=4, reads=True)
    assert statistics.median(times) < 0.1 and p90(times) < 0.1, times
    assert peak < 150 * 2**20, peak / 2**20
    assert stale < 3.0
