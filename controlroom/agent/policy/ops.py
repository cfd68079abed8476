"""Protocol ops served by the policy engine (apply_profile, set_ramp, migrate, ...).

Thin: each handler finds the engine, takes its lock (so a ramp tick never acts in the
middle of a migration), calls the action, pushes the new policy state."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from controlroom.agent.policy import actions, beside, trial
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
        keep = args.get("keep")
        result = await trial.start_trial(engine, args["game"], dict(args["settings"]),
                                         minutes=float(args["minutes"]),
                                         keep=None if keep is None else bool(keep),
                                         mode=str(args.get("mode", "instead")))  # fmt: skip
    engine.publish(time.time(), force=True)
    return result


async def trial_decide(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Keep or discard a beside trial's learning (ends it first if still running)."""
    engine = engine_for(agent)
    async with engine.lock:
        result = await beside.decide(engine, args["game"], bool(args["keep"]))
        engine.save()
    engine.publish(time.time(), force=True)
    return {"trial": result}


async def set_guard(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Change [guard] budgets; written to the agent's config file."""
    engine = engine_for(agent)
    async with engine.lock:
        result = {"budgets": actions.set_guard(engine, dict(args["budgets"]))}
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
    "reset_ceiling": reset_ceiling, "trial_decide": trial_decide, "set_guard": set_guard,
}  # fmt: skip
