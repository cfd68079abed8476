"""Protocol ops served by the policy engine (apply_profile, set_ramp, migrate, ...).

Thin: each handler finds the engine, takes its lock (so a ramp tick never acts in the
middle of a migration), calls the action, pushes the new policy state."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from controlroom.agent.policy import actions, trial
from controlroom.agent.policy.engine import engine_for
from controlroom.agent.policy.migration import listing

PolicyOp = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]


async def apply_profile(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Converge to a profile, or with dry_run only show the plan."""
    engine = engine_for(agent)
    async with engine.lock:
        result = await actions.apply_profile(engine, args["name"], bool(args.get("dry_run")))
        engine.save()
    engine.publish(time.time(), force=True)
    return result


async def set_ramp(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Turn the gradual ramp on or off."""
    engine = engine_for(agent)
    async with engine.lock:
        result = {"ramp": await actions.set_ramp(engine, bool(args["enabled"]))}
    engine.publish(time.time(), force=True)
    return result


async def migrate(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Change a game's settings keeping its progress (snapshot first)."""
    engine = engine_for(agent)
    async with engine.lock:
        result = await actions.migrate(engine, args["game"], dict(args["settings"]))
        engine.save()
    engine.publish(time.time(), force=True)
    return result


async def rollback(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Restore a game's newest snapshot: settings and progress."""
    engine = engine_for(agent)
    async with engine.lock:
        result = await actions.rollback(engine, args["game"])
        engine.save()
    engine.publish(time.time(), force=True)
    return {**result, "snapshots": listing(agent.state_dir, args["game"])}


async def start_trial(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Run candidate settings for N minutes; the figures land in policy.trials."""
    engine = engine_for(agent)
    async with engine.lock:
        result = await trial.start_trial(engine, args["game"], dict(args["settings"]),
                                         float(args["minutes"]),
                                         keep=bool(args.get("keep", True)))  # fmt: skip
    engine.publish(time.time(), force=True)
    return result


async def set_queue(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Set the waiting games explicitly (configured games, in order)."""
    engine = engine_for(agent)
    async with engine.lock:
        result = {"queue": actions.set_queue(engine, list(args["games"]))}
    engine.publish(time.time(), force=True)
    return result


async def reset_ceiling(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Forget the ramp's recorded ceiling."""
    engine = engine_for(agent)
    async with engine.lock:
        result = {"ramp": actions.reset_ceiling(engine)}
    engine.publish(time.time(), force=True)
    return result


async def plan(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The plan, freshly computed."""
    return engine_for(agent).plan(time.time(), fresh=True)


# op name -> async handler(agent, args) -> result dict; the core looks ops up here.
POLICY_OPS: dict[str, PolicyOp] = {
    "apply_profile": apply_profile, "set_ramp": set_ramp, "migrate": migrate,
    "rollback": rollback, "trial": start_trial, "plan": plan, "set_queue": set_queue,
    "reset_ceiling": reset_ceiling,
}  # fmt: skip
