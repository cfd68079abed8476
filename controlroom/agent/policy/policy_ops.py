"""Protocol ops served by the policy engine (apply_profile, set_ramp, migrate, ...).

Thin: the core's dispatcher hands each handler the engine; the handler takes the
policy lock and then, for an op on one game, that game's lock (daemon.py gives the
order: so a policy op never interleaves with a ramp tick, nor with a core op on the same
game), calls the action, pushes the new policy state."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import msgspec

from controlroom import protocol
from controlroom.agent.policy import beside, host_actions, tune
from controlroom.agent.policy.seam import Engine

# Each handler takes its op's own protocol.Args subclass, validated by the decoder.
PolicyOp = Callable[[Engine, Any], Awaitable[msgspec.Struct]]
R = TypeVar("R")


async def _locked(
    engine: Engine,
    act: Callable[[Engine], Awaitable[R]],
    *,
    save: bool = False,
    game: str | None = None,
) -> R:
    """Run one action under the policy lock (and `game`'s lock when it names one),
    persist if asked, then push the new state."""
    async with AsyncExitStack() as held:
        await held.enter_async_context(engine.lock)
        if game is not None:
            await held.enter_async_context(engine.agent.game_lock(game))
        result = await act(engine)
        if save:
            engine.save()
    engine.publish(time.time(), force=True)
    return result


async def apply_profile(engine: Engine, args: protocol.ApplyProfile) -> protocol.ProfilePlan:
    """Converge to a profile, or with dry_run only show the plan."""
    return await _locked(
        engine,
        lambda e: host_actions.apply_profile(e, args.name, args.dry_run, tuned=args.tuned),
        save=True,
    )


async def set_ramp(engine: Engine, args: protocol.SetRamp) -> protocol.RampChange:
    """Turn the gradual ramp on or off."""

    async def act(e: Engine) -> protocol.RampChange:
        return protocol.RampChange(ramp=await host_actions.set_ramp(e, args.enabled))

    return await _locked(engine, act)


async def migrate(engine: Engine, args: protocol.Migrate) -> protocol.Migration:
    """Change a game's settings keeping its progress (snapshot first)."""
    settings = dict(args.settings)
    return await _locked(
        engine, lambda e: host_actions.migrate(e, args.game, settings), save=True, game=args.game
    )


async def rollback(engine: Engine, args: protocol.GameArgs) -> protocol.Rollback:
    """Restore a game's newest snapshot: settings and progress."""
    return await _locked(
        engine, lambda e: host_actions.rollback(e, args.game), save=True, game=args.game
    )


async def start_trial(engine: Engine, args: protocol.Trial) -> protocol.TrialChange:
    """Run candidate settings for N minutes; the figures land in policy.trials."""

    async def act(e: Engine) -> protocol.TrialChange:
        record = await e.start_trial(
            args.game, dict(args.settings), minutes=args.minutes, keep=args.keep, mode=args.mode
        )
        return protocol.TrialChange(trial=record)

    return await _locked(engine, act, game=args.game)


async def trial_decide(engine: Engine, args: protocol.TrialDecide) -> protocol.TrialChange:
    """Keep or discard a beside trial's learning (ends it first if still running)."""

    async def act(e: Engine) -> protocol.TrialChange:
        return protocol.TrialChange(trial=await beside.decide(e, args.game, args.keep))

    return await _locked(engine, act, save=True, game=args.game)


async def set_guard(engine: Engine, args: protocol.SetGuard) -> protocol.GuardChange:
    """Change [guard] budgets; written to the agent's config file."""

    async def act(e: Engine) -> protocol.GuardChange:
        return protocol.GuardChange(budgets=host_actions.set_guard(e, dict(args.budgets)))

    return await _locked(engine, act)


async def set_queue(engine: Engine, args: protocol.SetQueue) -> protocol.QueueChange:
    """Set the waiting games explicitly (configured games, in order)."""

    async def act(e: Engine) -> protocol.QueueChange:
        return protocol.QueueChange(queue=host_actions.set_queue(e, list(args.games)))

    return await _locked(engine, act)


async def reset_ceiling(engine: Engine, args: protocol.NoArgs) -> protocol.RampChange:
    """Forget the ramp's recorded ceiling."""

    async def act(e: Engine) -> protocol.RampChange:
        return protocol.RampChange(ramp=host_actions.reset_ceiling(e))

    return await _locked(engine, act)


async def plan(engine: Engine, args: protocol.NoArgs) -> protocol.Plan:
    """The plan, freshly computed."""
    return engine.plan(time.time(), fresh=True)


async def start_tune(engine: Engine, args: protocol.Tune) -> protocol.TuneChange:
    """Tune games in sequence (or with dry_run only show their ladders)."""
    games = list(args.games)
    return await _locked(
        engine, lambda e: tune.start(e, games, args.minutes, args.dry_run), game=games[0]
    )


async def tune_status(engine: Engine, args: protocol.NoArgs) -> protocol.TuneChange:
    """The tunes by game and the games waiting."""
    return tune.change(engine)


async def tune_apply(engine: Engine, args: protocol.TuneApply) -> protocol.TuneApplied:
    """Apply a finished tune's chosen shape (a migration)."""
    return await _locked(engine, lambda e: tune.apply(e, args.game), save=True, game=args.game)


async def tune_cancel(engine: Engine, args: protocol.TuneCancel) -> protocol.TuneChange:
    """Stop the running tune; its game goes back to its shape."""
    return await _locked(engine, tune.cancel, save=True)


# op name -> async handler(engine, args) -> its result Struct; the core looks ops up here.
POLICY_OPS: dict[str, PolicyOp] = {
    "apply_profile": apply_profile,
    "set_ramp": set_ramp,
    "migrate": migrate,
    "rollback": rollback,
    "trial": start_trial,
    "plan": plan,
    "set_queue": set_queue,
    "reset_ceiling": reset_ceiling,
    "trial_decide": trial_decide,
    "set_guard": set_guard,
    "tune": start_tune,
    "tune_status": tune_status,
    "tune_apply": tune_apply,
    "tune_cancel": tune_cancel,
}
