"""The agent's periodic work: supervise (2/s), sample telemetry, heartbeat (and the disk
check), policy tick, periodic evaluation.

The daemon (daemon.py) wires the parts and serves requests; this runs the passes over
those parts on the one event loop thread until the agent stops. Each pass is short; a
failing pass is logged and the next one runs: the agent never dies of a tick. It sees the
agent as `Parts`, the few attributes the passes read, so it imports the rooms and not the
daemon (which imports it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from controlroom import protocol
from controlroom.agent.alerts import Alerts
from controlroom.agent.core import PolicyView
from controlroom.agent.evaluation.service import EVAL_TICK_S, Evaluations
from controlroom.agent.learning.histories import Learning
from controlroom.agent.readings.reading import HostReading
from controlroom.agent.readings.telemetry import Telemetry, summarize_gpus
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision.supervisor import Supervisor
from controlroom.config import Config

log = logging.getLogger(__name__)

SUPERVISE_S = 0.5


class Parts(Protocol):
    """What the passes read and call on the agent (daemon.Agent is one)."""

    config: Config
    store: Store
    supervisor: Supervisor
    learning: Learning
    telemetry_source: Telemetry
    alerts: Alerts
    evaluations: Evaluations
    dirty: set[str]
    boot_id: str
    stopping: asyncio.Event

    def telemetry(self) -> HostReading: ...
    def host(self) -> protocol.Host: ...
    def publish(self, partial_state: protocol.StateUpdate) -> None: ...
    def flush_games(self) -> None: ...


class Periodic:
    """The passes of one agent, and the loop that runs them."""

    def __init__(self, agent: Parts) -> None:
        self.agent = agent

    async def run_until_stopped(self, policy: PolicyView) -> None:
        """Run the periodic passes until the agent's stopping event is set."""
        a = self.agent
        # Intervals are read afresh each pass: a saved config changes them.
        passes: list[tuple[Callable[[], float], Callable[[], Any]]] = [
            (lambda: SUPERVISE_S, self.supervise),
            (lambda: a.config.agent.telemetry_s, self.sample_telemetry),
            (lambda: a.config.agent.heartbeat_s, self.heartbeat),
            (lambda: a.config.agent.telemetry_s, lambda: policy.tick(time.time())),
            (lambda: EVAL_TICK_S, lambda: a.evaluations.tick(time.time())),
        ]
        tasks = [asyncio.create_task(self._every(interval, work)) for interval, work in passes]
        await a.stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, interval: Callable[[], float], work: Callable[[], Any]) -> None:
        while not self.agent.stopping.is_set():
            started = time.monotonic()
            try:
                result = work()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("periodic pass failed")
            await asyncio.sleep(max(0.05, interval() - (time.monotonic() - started)))

    def supervise(self) -> None:
        """Reconcile processes with wanted games, then push what changed."""
        a = self.agent
        a.supervisor.tick(time.time())
        a.dirty.update(a.learning.sync(a.supervisor.games))
        a.flush_games()

    def sample_telemetry(self) -> None:
        """Sample the host, attribute GPU memory to games, push, keep a down-sampled row."""
        a = self.agent
        t = a.telemetry_source
        t.sample()
        by_pid = t.memory_by_pid()
        for g in a.supervisor.games.values():
            found = [by_pid[pid] for pid in g.pids() if pid in by_pid]
            used = sum(found) if found else None  # a job's is its ranks'
            if used != g.gpu_memory_used:
                g.gpu_memory_used = used  # a measurement, not a state: no transition
                a.dirty.add(g.name)
        now = time.time()
        reading = a.telemetry()
        a.publish(
            protocol.StateUpdate(
                host=a.host(),
                gpus=reading.gpus,
                gpu_error=t.reader.error,
                system=reading.system,
                history=t.history_now(),
            )
        )
        if t.due_for_store(now):
            a.store.add_sample(now, t.stored_sample())

    def heartbeat(self) -> None:
        """Move this boot's last heartbeat forward with the load now; check the disk."""
        a = self.agent
        a.store.heartbeat(a.boot_id, time.time(), self.load())
        a.alerts.check_disk(a.telemetry_source.system.disk_free)

    def load(self) -> protocol.Load:
        """What the host carried: the figures kept with each heartbeat and each reboot."""
        games = self.agent.supervisor.games.values()
        gpu = summarize_gpus(self.agent.telemetry_source.gpus)
        return protocol.Load(
            games=sum(1 for g in games if g.wanted),
            trainers=sum(1 for g in games if g.proc is not None),
            total_envs=sum(g.settings["num_envs"] for g in games if g.proc is not None),
            gpu_memory_used=int(gpu["memory_used"]),
            gpu_temp_c=gpu["temperature_c"],
        )
