"""Beside trials: candidate settings in a second trainer, next to the game's own.

The game keeps training; a second trainer for the same game starts from a copy of its
newest checkpoint in state_dir/trials/<game>/<stamp>/ with the candidate settings, for
N minutes, if the guard allows the extra load. Both are measured over the same minutes
and set side by side. Then the trial trainer stops (it checkpoints on SIGTERM) and the
user decides, upfront (`keep`) or afterwards (`trial_decide`): keep = the game moves to
the candidate settings and resumes from the trial's checkpoint (a snapshot first, so
`rollback` undoes it); discard = the trial dir is deleted and the game is untouched.

An agent restart mid-trial adopts the trial trainer (same pid, create time and command
line) and the trial goes on; a trial trainer that did not survive (a reboot) ends the
trial with what was measured, and the decision is still the user's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import msgspec

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.policy import guard, migration
from controlroom.agent.policy.figures import compare, shape_data, shape_of, summary
from controlroom.agent.policy.host_actions import (
    CHANGEABLE,
    check_guard,
    game_state,
    measure,
    new_settings,
    snapshot,
    stop_for_snapshot,
)
from controlroom.agent.policy.seam import Engine, TrialTrainer
from controlroom.agent.storage import paths
from controlroom.agent.supervision import job_parts, process
from controlroom.agent.supervision.gamerun import describe_exit
from controlroom.agent.supervision.launch import trainer_argv, trainer_env
from controlroom.agent.supervision.runfiles import METRICS_FILE, MetricsTail, read_checkpoint
from controlroom.agent.supervision.threads import host_cores, thread_env, threads_for
from controlroom.config import Settings
from controlroom.protocol import BesideTrial, GameState, TrialFigures

CHECKPOINTS = migration.CHECKPOINTS


def root(state_dir: Path, game: str) -> Path:
    """Where a game's beside trials run."""
    return paths.trials_dir(state_dir, game)


def added_load(engine: Engine) -> guard.Change:
    """The load the running beside trials add (the core's GameStates miss it)."""
    live = [t for g, t in engine.trials.items() if g in engine.beside]
    envs = sum(int(t.settings.get("num_envs") or 0) for t in live if isinstance(t, BesideTrial))
    return guard.Change(envs=envs, trainers=len(live))


def copy_newest_checkpoint(run_dir: Path, dest: Path) -> protocol.TrialOrigin:
    """Copy the running game's newest checkpoint (and latest.json) to dest; retried when
    the trainer prunes it between our reading latest.json and copying the file."""
    src = run_dir / CHECKPOINTS
    (dest / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        try:
            latest = json.loads((src / "latest.json").read_text())
            shutil.copy2(src / latest["file"], dest / CHECKPOINTS / latest["file"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        (dest / CHECKPOINTS / "latest.json").write_text(json.dumps(latest, indent=1))
        return protocol.TrialOrigin(
            file=latest["file"],
            global_step=latest.get("global_step"),
            episodes=latest.get("episodes"),
        )
    raise OpError("invalid", f"{run_dir.name} has no checkpoint yet to start a trial from")


async def start(
    engine: Engine, game: str, changes: Settings, *, minutes: float, keep: bool | None
) -> BesideTrial:
    """Start the second trainer from a copy of the game's newest checkpoint."""
    st = game_state(engine, game)
    before = measure(engine, st)
    current = dict(st.settings)
    candidate = new_settings(current, changes)  # a bad setting is named before anything else
    if st.state != "running":
        raise OpError(
            "invalid",
            f"a beside trial needs {game} running (it is {st.state}); mode 'instead' runs it alone",
        )
    if candidate == current:
        raise OpError("invalid", "the candidate settings are the current ones")
    if (span := job_parts.part_of_job(st)) is not None:  # a second trainer would join the job
        raise OpError(
            "invalid",
            f"{job_parts.part_text(game, span)}: a beside trial cannot run next to it "
            "(its second trainer would try to join the job)",
        )
    check_guard_beside(engine, game, candidate)
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    trial_dir = root(engine.agent.state_dir, game) / stamp
    if trial_dir.exists():
        raise OpError("invalid", f"a trial of {game} started this second already")
    origin = copy_newest_checkpoint(engine.agent.run_dir(game), trial_dir)
    grace = engine.agent.config.agent.stop_grace_s
    argv = trainer_argv(game, candidate, trial_dir, stop_grace_s=grace)
    # On its game's GPUs: the comparison is of settings, not of GPUs. Its threads are a
    # share of the cores with the running trainers and itself (theirs stay as they are).
    busy = sum(max(1, g.world_size) for g in engine.agent.games().values() if g.pid)
    threads = threads_for(candidate, host_cores(), busy + 1)
    proc = process.spawn(argv, trial_dir, trainer_env(st.gpus) | thread_env(threads))
    engine.beside[game] = TrialTrainer(proc, MetricsTail(trial_dir / METRICS_FILE))
    shown = {k: v for k, v in candidate.items() if k != "command"}
    trial = BesideTrial(
        game=game,
        status="running",
        started_at=now,
        ends_at=now + minutes * 60.0,
        minutes=minutes,
        dir=str(trial_dir),
        from_checkpoint=origin,
        settings=shown,
        restore_settings=current,
        before=before,
        current=None,
        trial=None,
        keep=keep,
        decision=None,
        pid=proc.pid,
        create_time=proc.create_time,
        cmdline=proc.cmdline,
    )
    engine.trials[game] = trial
    engine.save()
    return trial


def check_guard_beside(engine: Engine, game: str, candidate: Settings) -> None:
    """The guard on a whole second trainer with the candidate's envs, on its game's GPUs
    (and its share of each at the measured bytes per env)."""
    games, tel = engine.agent.games(), engine.agent.telemetry()
    load = engine.with_trials(guard.load_from(games, tel))
    envs = int(candidate.get("num_envs") or 0)
    own = games.get(game)
    gpus = tuple(own.gpus) if own else ()
    mem = guard.gpu_share(games, tel, envs, gpus)
    verdict = guard.verdict(engine.agent.config.guard, load, guard.Change(envs, 1, mem, gpus))
    if verdict is not None:
        engine.refuse(game, verdict)
        raise OpError("refused", verdict)


def adopt(engine: Engine) -> None:
    """After an agent restart: take the running beside trials' trainers back, or end
    the trials whose trainer is gone (the decision stays the user's)."""
    for game, trial in engine.trials.items():
        if not isinstance(trial, BesideTrial) or trial.status != "running":
            continue
        proc = process.adopt(trial.pid, trial.create_time, trial.cmdline)
        if proc is None:
            _ended(engine, game, time.time(), "the trial trainer was gone when the agent restarted")
            continue
        tail = MetricsTail(Path(trial.dir) / METRICS_FILE)
        tail.start_at_end()
        engine.beside[game] = TrialTrainer(proc, tail)
        engine.event(
            "adopted",
            game,
            f"adopted the trial trainer of {game} (pid {proc.pid})",
            {"pid": proc.pid, "trial": trial.dir},
        )


def record(engine: Engine, game: str) -> BesideTrial:
    """The game's trial, which the engine hands this module only in mode "beside"."""
    trial = engine.trials[game]
    assert isinstance(trial, BesideTrial), f"{game}'s trial runs instead"
    return trial


def sample(engine: Engine, game: str, st: GameState | None, figures: TrialFigures | None) -> None:
    """Record both trainers' figures over the same minutes."""
    trial, tt = record(engine, game), engine.beside[game]
    tt.tail.poll()
    if st is not None and figures and (figures.episodes_per_hour or figures.sps):
        trial.current = figures
    m = tt.tail.metrics or {}
    if m.get("sps") or m.get("episodes_per_hour"):
        tel = engine.agent.telemetry()
        used = sum(p.memory_used for gp in tel.gpus for p in gp.processes if p.pid == tt.proc.pid)
        temp = guard.load_from({}, tel).gpu_temp_c
        trial.trial = TrialFigures(
            episodes_per_hour=m.get("episodes_per_hour"),
            sps=m.get("sps"),
            gpu_memory_used=used or None,
            gpu_temp_c=temp,
            episodes=m.get("episodes"),
            settings=shape_of(trial.settings),
        )


async def trial_pass(engine: Engine, game: str, st: GameState | None, now: float) -> None:
    """Sample a running beside trial; finish it when it is due."""
    if game not in engine.beside:  # gone with an agent restart: adopt() reported it
        return
    sample(engine, game, st, measure(engine, st) if st is not None else None)
    why = due(engine, game, now, st)
    if why is not None:
        await finish(engine, game, now, why)


def due(engine: Engine, game: str, now: float, st: GameState | None) -> str | None:
    """Why the trial ends now, or None."""
    trial, tt = record(engine, game), engine.beside[game]
    if not tt.proc.alive():
        return f"the trial trainer exited early ({describe_exit(tt.proc.exit_code)})"
    if st is None:
        return f"{game} was removed"
    if now >= trial.ends_at:
        return f"{trial.minutes:g} min done"
    return None


async def finish(engine: Engine, game: str, now: float, why: str) -> None:
    """Stop the trial trainer (final checkpoint), compare, then apply an upfront choice."""
    tt = engine.beside.get(game)
    if tt is not None:
        await _stop(engine, tt.proc)
        tt.tail.poll()
        engine.beside.pop(game, None)
    _ended(engine, game, now, why)
    keep = record(engine, game).keep
    if keep is None:
        return
    try:
        await decide(engine, game, keep)
    except OpError as exc:  # e.g. the guard refuses the candidate now: the user decides
        record(engine, game).outcome = (
            f"could not {'keep' if keep else 'discard'} it: "
            f"{exc.message}; waiting for trial_decide {game}"
        )


def _ended(engine: Engine, game: str, now: float, why: str) -> None:
    trial = record(engine, game)
    trial.ended_at, trial.ended_because = now, why
    comparison = compare(trial.current or trial.before, trial.trial)
    trial.comparison = comparison
    trial.trial_checkpoint = read_checkpoint(Path(trial.dir))
    trial.outcome = f"waiting for trial_decide {game} (keep or discard)"
    trial.status = "finished"
    engine.event(
        "trial_finished",
        game,
        f"beside trial of {game} ({why}): {summary(comparison)}",
        {"comparison": msgspec.to_builtins(comparison), "mode": "beside"},
    )


async def _stop(engine: Engine, proc: process.TrainerProc) -> None:
    """SIGTERM, then SIGKILL after the agent's stop_grace_s; wait until it is gone."""
    process.terminate(proc)
    deadline = time.monotonic() + engine.agent.config.agent.stop_grace_s
    while proc.alive():
        if time.monotonic() >= deadline:
            process.kill(proc)
            deadline = float("inf")
        await asyncio.sleep(0.05)


async def decide(engine: Engine, game: str, keep: bool) -> BesideTrial:
    """Keep (adopt the trial's learning and settings) or discard a beside trial."""
    trial = engine.trials.get(game)
    if not isinstance(trial, BesideTrial):
        raise OpError("not_found", f"{game} has no beside trial to decide")
    if trial.decision is not None:
        raise OpError("invalid", f"the trial of {game} was already {trial.decision}")
    if trial.status == "running":  # decided early: end it now
        trial.keep = None
        await finish(engine, game, time.time(), "decided before its time was up")
    trial_dir = Path(trial.dir)
    outcome = (
        await _keep(engine, game, trial, trial_dir)
        if keep
        else (f"learning discarded: trial dir removed, {game} unchanged")
    )
    shutil.rmtree(trial_dir, ignore_errors=True)
    trial.decision = "kept" if keep else "discarded"
    trial.outcome = outcome
    engine.event(
        "trial_decided",
        game,
        f"trial of {game}: {outcome}",
        {"decision": trial.decision, "settings": shape_data(trial.settings)},
    )
    return trial


async def _keep(engine: Engine, game: str, trial: BesideTrial, trial_dir: Path) -> str:
    ck = read_checkpoint(trial_dir)
    if ck is None:
        raise OpError("invalid", f"the trial of {game} left no checkpoint; nothing to keep")
    st = game_state(engine, game)
    chosen = {k: v for k, v in trial.settings.items() if k in CHANGEABLE}
    candidate = new_settings(dict(st.settings), chosen)
    check_guard(engine, game, candidate)
    was_wanted = st.wanted
    st = await stop_for_snapshot(engine, game)
    name = snapshot(engine, game, msgspec.structs.replace(st, wanted=was_wanted), "trial")
    migration.restore(trial_dir, engine.agent.run_dir(game))
    await engine.agent.want_game(game, candidate, wanted=was_wanted)
    trial.snapshot = name
    return (
        f"learning kept: {game} resumes from the trial's checkpoint (step "
        f"{ck.global_step}, episode {ck.episodes}) with the candidate settings; "
        f"rollback {game} restores snapshot {name}"
    )
