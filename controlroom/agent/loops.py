"""The agent's periodic work: supervise (2/s), telemetry (every telemetry_s), heartbeat.

All three run on the one event loop thread; each pass is short, so nothing here needs
a lock. A failing pass is logged and the next one runs: the agent never dies of a tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controlroom.agent.daemon import Agent

log = logging.getLogger(__name__)

SUPERVISE_S = 0.5


async def run_until_stopped(agent: Agent) -> None:
    """Run the periodic passes until the agent's stopping event is set."""
    knobs = agent.config.agent
    tasks = [
        asyncio.create_task(_every(agent, lambda: SUPERVISE_S, lambda: supervise(agent))),
        asyncio.create_task(_every(agent, lambda: agent.config.agent.telemetry_s,
                                   lambda: telemetry(agent))),
        asyncio.create_task(_every(agent, lambda: agent.config.agent.heartbeat_s,
                                   lambda: heartbeat(agent))),
    ]
    if agent.policy is not None:
        tasks.append(asyncio.create_task(_every(agent, lambda: knobs.telemetry_s,
                                                lambda: _policy_tick(agent))))
    await agent.stopping.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _every(agent: Agent, interval: Callable[[], float], work: Callable[[], Any]) -> None:
    while not agent.stopping.is_set():
        started = time.monotonic()
        try:
            result = work()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("periodic pass failed")
        await asyncio.sleep(max(0.05, interval() - (time.monotonic() - started)))


def supervise(agent: Agent) -> None:
    """Reconcile processes with wanted games, then push what changed."""
    agent.supervisor.tick(time.time())
    agent.flush_games()


def telemetry(agent: Agent) -> None:
    """Sample the host, attribute GPU memory to games, push, keep a down-sampled row."""
    t = agent.telemetry_source
    t.sample()
    by_pid = t.memory_by_pid()
    for g in agent.supervisor.games.values():
        used = by_pid.get(g.pid) if g.pid else None
        if used != g.gpu_memory_used:
            g.gpu_memory_used = used
            agent.dirty.add(g.name)
    now = time.time()
    agent.publish({"host": agent.host(), **agent.telemetry(), "gpu_error": t.reader.error,
                   "history": t.history_dict()})  # fmt: skip
    if t.due_for_store(now):
        agent.store.add_sample(now, t.stored_sample())


def heartbeat(agent: Agent) -> None:
    """Move this boot's last heartbeat forward with the load now."""
    agent.store.heartbeat(agent.boot_id, time.time(), load(agent))


def load(agent: Agent) -> dict[str, Any]:
    """What the host carried: the figures kept with each heartbeat and each reboot."""
    from controlroom.agent.telemetry import summarize_gpus

    games = agent.supervisor.games.values()
    gpu = summarize_gpus(agent.telemetry_source.gpus)
    return {"games": sum(1 for g in games if g.wanted),
            "trainers": sum(1 for g in games if g.proc is not None),
            "total_envs": sum(g.settings["num_envs"] for g in games if g.proc is not None),
            "gpu_memory_used": gpu["memory_used"], "gpu_temp_c": gpu["temperature_c"]}


async def _policy_tick(agent: Agent) -> None:
    await agent.policy.tick(time.time())
