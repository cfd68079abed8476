"""What the policy ops do to the host: migrate, roll back, apply a profile.

Each is the log's manual procedure made one action: "checkpoint, 7 GB backup, restart
with new settings, keep a rollback script" is `migrate`; "pkill, then start medium" is
`apply medium`, shown first as a plan and checked against the guard as a whole.
"""

from __future__ import annotations

import dataclasses
import time

import msgspec

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.policy import figures, guard, migration, profiles, ramp
from controlroom.agent.policy.figures import shape_data as _shape
from controlroom.agent.policy.queue import default_order
from controlroom.agent.policy.seam import Engine
from controlroom.agent.supervision import job_parts
from controlroom.agent.supervision.launch import OVERRIDES, check_overrides, validate
from controlroom.config import ConfigError, GuardConfig, Settings, check_value
from controlroom.protocol import GameState
from controlroom.span import Span

# What a migration or trial may change: the same settings a client may set on add.
CHANGEABLE = OVERRIDES


def game_state(engine: Engine, game: str) -> GameState:
    """A known game's GameState, else a not_found OpError."""
    st = engine.agent.games().get(game)
    if st is None:
        raise OpError("not_found", f"{game} is not on this host; add it first")
    return st


def refuse_part_of_job(st: GameState, what: str) -> None:
    """An `invalid` OpError when `st` is a part of a job over several hosts: `what` (a
    migration, a trial) would change its settings on this node alone, and the job
    would then refuse to start. Nothing is changed."""
    span = job_parts.part_of_job(st)
    if span is not None:
        raise OpError("invalid", job_parts.refusal(st.game, span, what))


def measure(engine: Engine, st: GameState) -> protocol.TrialFigures:
    """A trial's figures from a GameState, with the GPU temperature now."""
    temp = guard.load_from({}, engine.agent.telemetry()).gpu_temp_c
    return figures.measure(st, temp)


def new_settings(current: Settings, changes: Settings) -> Settings:
    """The current settings with `changes` on top, checked whole (each value's type and
    bounds, the shape, the env id) exactly as want_game will check them: an op that
    stops a trainer or takes a snapshot validates first, so a refusal changes nothing."""
    check_overrides(changes)
    merged = {**current, **changes}
    validate(merged)
    return merged


def check_guard(engine: Engine, game: str, settings: Settings) -> None:
    """Refuse (event + OpError) when the guard says no."""
    verdict = engine.check_scale(game, settings)
    if verdict is not None:
        engine.refuse(game, verdict)
        raise OpError("refused", verdict)


def snapshot(engine: Engine, game: str, st: GameState, reason: str) -> str:
    """Back up a stopped game's checkpoints with its settings and progress; prune."""
    agent = engine.agent
    meta = protocol.SnapshotMeta(
        game=game,
        time=time.time(),
        reason=reason,
        settings=st.settings,
        checkpoint=st.checkpoint,
        wanted=st.wanted,
    )
    path = migration.take(agent.state_dir, agent.run_dir(game), meta)
    migration.prune(agent.state_dir, game, agent.config.agent.snapshot_retention)
    return path.name


async def stop_for_snapshot(engine: Engine, game: str) -> GameState:
    """Stop the trainer (it checkpoints on SIGTERM); the GameState after that."""
    engine.watch.forget(game)
    engine.agent.mark_paused(game, False)
    await engine.agent.stop_trainer(game)
    return game_state(engine, game)


async def migrate(
    engine: Engine, game: str, changes: Settings, reason: str = "migrate"
) -> protocol.Migration:
    """Checkpoint, snapshot, restart from the checkpoint with the new settings."""
    st = game_state(engine, game)
    refuse_part_of_job(st, "a migration" if reason == "migrate" else f"a {reason}")
    before = dict(st.settings)
    after = new_settings(before, changes)
    if after == before:
        return protocol.Migration(game=st, changed=False, snapshot=None)
    check_guard(engine, game, after)
    was_wanted = st.wanted
    st = await stop_for_snapshot(engine, game)
    name = snapshot(engine, game, msgspec.structs.replace(st, wanted=was_wanted), reason)
    state = await engine.agent.want_game(game, after, wanted=was_wanted)
    if reason == "migrate":
        text = ", ".join(
            f"{k} {before.get(k)} -> {after.get(k)}" for k in after if before.get(k) != after.get(k)
        )
        engine.event(
            "migrated",
            game,
            f"migrated {game}: {text}",
            {"from": _shape(before), "to": _shape(after), "snapshot": name},
        )
    return protocol.Migration(game=state, changed=True, snapshot=name)


async def rollback(engine: Engine, game: str) -> protocol.Rollback:
    """Restore the newest snapshot's checkpoints and settings, and resume from them. A
    part of a job over several hosts is refused (job_parts.rollback_refusal): this agent
    can restore this host only, and no agent reaches another's."""
    st = game_state(engine, game)
    span = job_parts.part_of_job(st)
    if span is not None:
        raise OpError("invalid", job_parts.rollback_refusal(game, span))
    if game in engine.beside:  # its trainer must not be orphaned by dropping the record
        raise OpError("invalid", f"a beside trial of {game} is running; trial_decide it first")
    snaps = migration.snapshots(engine.agent.state_dir, game)
    if not snaps:
        raise OpError("not_found", f"{game} has no snapshot to roll back to")
    try:
        meta = migration.meta(snaps[0])
    except msgspec.DecodeError as exc:  # a bad snapshot is refused before a stop
        raise OpError("invalid", f"snapshot {snaps[0].name} is unreadable: {exc}") from None
    validate(dict(meta.settings))
    was = Span.of(meta.settings)
    if was.spans:  # it would rejoin a job the other hosts may have left or changed
        raise OpError("invalid", job_parts.rollback_refusal(game, was))
    await stop_for_snapshot(engine, game)
    migration.restore(snaps[0], engine.agent.run_dir(game))
    engine.trials.pop(game, None)
    state = await engine.agent.want_game(game, dict(meta.settings), wanted=meta.wanted)
    episodes = meta.checkpoint.episodes if meta.checkpoint else None
    engine.event(
        "rolled_back",
        game,
        f"rolled {game} back to snapshot {snaps[0].name} "
        f"(episode {episodes}, {_shape(meta.settings)})",
        {"snapshot": snaps[0].name, "settings": _shape(meta.settings)},
    )
    return protocol.Rollback(
        game=state,
        snapshot=snaps[0].name,
        restored=meta,
        snapshots=migration.listing(engine.agent.state_dir, game),
    )


def profile_verdict(engine: Engine, target: dict[str, Settings]) -> str | None:
    """The guard on the profile as a whole: the load it leaves against the load now."""
    games, tel = engine.agent.games(), engine.agent.telemetry()
    load = guard.load_from(games, tel)
    per_env = guard.gpu_bytes_per_env(games)
    total = sum(g.memory_total for g in tel.gpus)
    envs = profiles.final_envs(target)
    mem = per_env * (envs - load.envs) / total if total else 0.0
    change = guard.Change(envs - load.envs, len(target) - load.trainers, mem)
    return guard.verdict(engine.agent.config.guard, load, change)


async def apply_profile(
    engine: Engine, name: str, dry_run: bool, *, tuned: bool = False
) -> protocol.ProfilePlan:
    """Converge to a profile (or only show the plan); the ramp steps aside. `tuned`:
    each game with its last finished tune's chosen shape, where it has one."""
    cfg = engine.agent.config
    if name not in cfg.profiles:
        raise OpError("not_found", f"no profile {name!r}; known: {', '.join(cfg.profiles)}")
    target = profiles.target_settings(cfg, name)
    if tuned:
        target = {g: {**s, **tuned_shape(engine, g)} for g, s in target.items()}
    for settings in target.values():  # the one check, before the first stop
        validate(settings)
    plan = profiles.diff(engine.agent.games(), target)
    verdict = profile_verdict(engine, target)
    result = protocol.ProfilePlan(
        profile=name,
        dry_run=dry_run,
        actions=profiles.on_the_wire(plan),
        total_envs=profiles.final_envs(target),
        verdict=verdict,
    )
    if dry_run:
        return result
    if verdict is not None:
        engine.refuse(None, verdict)
        raise OpError("refused", f"profile {name}: {verdict}")
    await _carry_out(engine, plan)
    await set_ramp(engine, False)
    engine.profile = name
    engine.queue.reset(default_order(cfg, engine.agent.games()), engine.agent.games())
    engine.event(
        "profile_applied",
        None,
        f"profile {name} applied: " + "; ".join(a.describe() for a in plan if a.kind != "keep"),
        {"profile": name, "actions": [a.describe() for a in plan]},
    )
    return result


def tuned_shape(engine: Engine, game: str) -> Settings:
    """A game's last finished tune's chosen shape as settings ({} when it has none)."""
    t = engine.tune.tunes.get(game)
    if t is None or t.status != "finished" or t.chosen is None:
        return {}
    out: Settings = {"num_envs": t.chosen.num_envs, "minibatch_size": t.chosen.minibatch_size}
    steps = t.restore_settings.get("num_steps")
    if isinstance(steps, int):
        out["num_steps"] = steps
    if t.chosen.threads is not None:
        out["torch_threads"] = t.chosen.threads
    return out


async def _carry_out(engine: Engine, plan: list[profiles.Action]) -> None:
    for action in plan:
        if action.kind == "stop":
            engine.watch.forget(action.game)
            await engine.agent.stop_trainer(action.game)
        elif action.kind == "migrate":
            await migrate(engine, action.game, profiles.profile_part(action.settings))
        elif action.kind == "start":
            engine.watch.forget(action.game)
            await engine.agent.want_game(action.game, action.settings)


async def set_ramp(engine: Engine, enabled: bool) -> protocol.RampView:
    """Turn the ramp on or off, in the state and in the agent's config file."""
    cfg = engine.agent.config
    if cfg.ramp.enabled != enabled:
        engine.agent.save_config(
            dataclasses.replace(cfg, ramp=dataclasses.replace(cfg.ramp, enabled=enabled))
        )
    if enabled and not engine.ramp.enabled:
        ramp.enable(engine.ramp, engine.steps(), time.time(), engine.agent.boot_id)
        engine.profile = None
        await engine.converge_ramp()
    elif not enabled:
        ramp.disable(engine.ramp)
    engine.save()
    return ramp.view(engine.ramp, engine.steps(), cfg.ramp.stable_minutes * 60.0)


def set_queue(engine: Engine, games: list[str]) -> protocol.QueueView:
    """Set the waiting games explicitly, in order; free slots stay free for them."""
    configured = engine.agent.config.games
    for game in games:
        if game not in configured:
            raise OpError(
                "invalid",
                f"{game} is not in the agent's [games]; configured: "
                f"{', '.join(configured) or 'none'}",
            )
    dupes = sorted({g for g in games if games.count(g) > 1})
    if dupes:
        raise OpError("invalid", f"named twice: {', '.join(dupes)}")
    engine.queue.waiting = list(games)
    engine.save()
    return queue_view(engine)


def queue_view(engine: Engine) -> protocol.QueueView:
    """The queue as the policy state and set_queue show it."""
    return protocol.QueueView(
        waiting=list(engine.queue.waiting), free_slots=len(engine.queue.free_slots)
    )


def set_guard(engine: Engine, budgets: protocol.JSONObject) -> protocol.GuardBudgets:
    """New [guard] budgets, each checked against its type and bounds in config.py (the
    same as config.toml's), the whole config checked again as it is written to the
    agent's config file; the running check uses them from its next tick. A refusal
    names the key and changes nothing."""
    known = [f.name for f in dataclasses.fields(GuardConfig)]
    unknown = sorted(set(budgets) - set(known))
    if unknown:
        raise OpError(
            "invalid", f"unknown guard budget {', '.join(unknown)}; known: {', '.join(known)}"
        )
    cfg = engine.agent.config
    try:
        checked = {k: check_value(GuardConfig, k, v) for k, v in budgets.items()}
    except ConfigError as exc:
        raise OpError("invalid", f"guard.{exc}") from None
    new = dataclasses.replace(cfg, guard=dataclasses.replace(cfg.guard, **checked))
    try:
        engine.agent.save_config(new)
    except ConfigError as exc:
        raise OpError("invalid", str(exc)) from None
    changed = {
        k: [getattr(cfg.guard, k), getattr(new.guard, k)]
        for k in known
        if getattr(cfg.guard, k) != getattr(new.guard, k)
    }
    if changed:
        engine.event(
            "guard_changed",
            None,
            "guard budgets: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()),
            {"changed": changed},
        )
    return budgets_of(new.guard)


def budgets_of(g: GuardConfig) -> protocol.GuardBudgets:
    """[guard] as the policy state and set_guard show it."""
    return msgspec.convert(g, protocol.GuardBudgets, from_attributes=True)


def reset_ceiling(engine: Engine) -> protocol.RampView:
    """Forget the ramp's ceiling (the host was fixed, or moved): it may climb again."""
    was = engine.ramp.ceiling
    engine.ramp.ceiling = None
    if was is not None:
        engine.event(
            "ramp_ceiling",
            None,
            f"ramp ceiling cleared (was step {was}): the ramp may climb to its last step again",
            {"ceiling": None, "was": was},
        )
    engine.save()
    stable_s = engine.agent.config.ramp.stable_minutes * 60.0
    return ramp.view(engine.ramp, engine.steps(), stable_s)
