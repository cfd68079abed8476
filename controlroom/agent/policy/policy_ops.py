"""Protocol ops served by the policy engine (apply_profile, set_ramp, migrate, ...).

Thin: each handler finds the engine, takes its lock (so a ramp tick never acts in the
middle of a migration), calls the action, pushes the new policy state."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from controlroom.agent.policy import actions, beside, trial
from controlroom.agent.policy.engine import engine_for
from controlroom.agent.policy.migration import listing

PolicyOp = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _locked(agent: Any, act: Callable[[Any], Any], *, save: bool = False) -> dict[str, Any]:
    """Run one action under the engine's lock, persist if asked, then push the new state."""
    engine = engine_for(agent)
    async with engine.lock:
        result = act(engine)
        if inspect.isawaitable(result):
            result = await result
        if save:
            engine.save()
    engine.publish(time.time(), force=True)
    out: dict[str, Any] = result
    return out


async def apply_profile(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Converge to a profile, or with dry_run only show the plan."""
    dry_run = bool(args.get("dry_run"))
    return await _locked(agent, lambda e: actions.apply_profile(e, args["name"], dry_run),
                         save=True)  # fmt: skip


async def set_ramp(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Turn the gradual ramp on or off."""

    async def act(engine: Any) -> dict[str, Any]:
        return {"ramp": await actions.set_ramp(engine, bool(args["enabled"]))}

    return await _locked(agent, act)


async def migrate(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Change a game's settings keeping its progress (snapshot first)."""
    settings = dict(args["settings"])
    return await _locked(agent, lambda e: actions.migrate(e, args["game"], settings), save=True)


async def rollback(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Restore a game's newest snapshot: settings and progress."""
    result = await _locked(agent, lambda e: actions.rollback(e, args["game"]), save=True)
    return {**result, "snapshots": listing(agent.state_dir, args["game"])}


async def start_trial(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Run candidate settings for N minutes; the figures land in policy.trials."""
    keep = args.get("keep")
    return await _locked(agent, lambda e: trial.start_trial(
        e, args["game"], dict(args["settings"]), minutes=float(args["minutes"]),
        keep=None if keep is None else bool(keep), mode=str(args.get("mode", "instead"))))


async def trial_decide(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Keep or discard a beside trial's learning (ends it first if still running)."""

    async def act(engine: Any) -> dict[str, Any]:
        return {"trial": await beside.decide(engine, args["game"], bool(args["keep"]))}

    return await _locked(agent, act, save=True)


async def set_guard(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Change [guard] budgets; written to the agent's config file."""
    budgets = dict(args["budgets"])
    return await _locked(agent, lambda e: {"budgets": actions.set_guard(e, budgets)})


async def set_queue(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Set the waiting games explicitly (configured games, in order)."""
    games = list(args["games"])
    return await _locked(agent, lambda e: {"queue": actions.set_queue(e, games)})


async def reset_ceiling(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Forget the ramp's recorded ceiling."""
    return await _locked(agent, lambda e: {"ramp": actions.reset_ceiling(e)})


async def plan(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The plan, freshly computed."""
    return engine_for(agent).plan(time.time(), fresh=True)


# op name -> async handler(agent, args) -> result dict; the core looks ops up here.
POLICY_OPS: dict[str, PolicyOp] = {
    "apply_profile": apply_profile, "set_ramp": set_ramp, "migrate": migrate,
    "rollback": rollback, "trial": start_trial, "plan": plan, "set_queue": set_queue,
    "reset_ceiling": reset_ceiling, "trial_decide": trial_decide, "set_guard": set_guard,
}  # fmt: skip
