"""Speed trials: run a game with candidate settings for N minutes and set the figures
side by side with its current ones (the log's 77-minute Breakout test, unattended).

Mode "instead" runs the candidate in place of the current settings: a snapshot first
(as for a migration), then the candidate settings, then back to the current settings.
The trial's learning is kept, or with `keep=False` discarded: the pre-trial snapshot is
restored, so the game goes on exactly from where it stood before the trial. `migrate
GAME` with the candidate settings adopts them. Mode "beside" runs a second trainer next
to the game's own (beside.py). The engine picks the mode; neither module imports the
other, and both take their figures from figures.py.
"""

from __future__ import annotations

import time

import msgspec

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.policy import migration
from controlroom.agent.policy.figures import compare, shape_data, summary
from controlroom.agent.policy.host_actions import (
    game_state,
    measure,
    migrate,
    new_settings,
    refuse_part_of_job,
    stop_for_snapshot,
)
from controlroom.agent.policy.seam import Engine
from controlroom.config import Settings
from controlroom.protocol import GameState, InsteadTrial

MODES = ("instead", "beside")


def check_request(engine: Engine, game: str, minutes: float, mode: str) -> None:
    """Refuse a trial that cannot start, whatever its mode; changes nothing."""
    if not 0 < minutes <= 7 * 24 * 60:
        raise OpError("invalid", "minutes must be in (0, 10080]")
    if mode not in MODES:
        raise OpError("invalid", f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if game in engine.trials_running():
        raise OpError("invalid", f"a trial of {game} is already running")
    running = engine.tune.running()
    if running is not None and running.game == game:
        raise OpError("invalid", f"a tune of {game} is running; tune_cancel it first")
    undecided = engine.trials.get(game)
    if isinstance(undecided, protocol.BesideTrial) and undecided.decision is None:
        raise OpError(
            "invalid", f"the beside trial of {game} waits for trial_decide (keep or discard) first"
        )


async def start(
    engine: Engine, game: str, changes: Settings, *, minutes: float, keep: bool | None
) -> InsteadTrial:
    """Snapshot, switch to the candidate settings, and finish after `minutes`, keeping
    the trial's learning (keep None or True) or restoring the snapshot."""
    st = game_state(engine, game)
    refuse_part_of_job(st, "an instead trial")
    keep = True if keep is None else keep
    current = dict(st.settings)
    if new_settings(current, changes) == current:
        raise OpError("invalid", "the candidate settings are the current ones")
    before = measure(engine, st)
    result = await migrate(engine, game, changes, reason="trial")
    now = time.time()
    trial = InsteadTrial(
        game=game,
        status="running",
        started_at=now,
        ends_at=now + minutes * 60.0,
        minutes=minutes,
        snapshot=result.snapshot,
        restore_settings=current,
        before=before,
        trial=None,
        keep=keep,
    )
    engine.trials[game] = trial
    engine.save()
    engine.event(
        "trial_started",
        game,
        f"trial of {game} for {minutes:g} min: "
        f"{shape_data(current)} -> {shape_data(result.game.settings)}",
        {},
    )
    return trial


def _record(engine: Engine, game: str) -> InsteadTrial:
    """The game's trial, which the engine hands this module only in mode "instead"."""
    trial = engine.trials[game]
    assert isinstance(trial, InsteadTrial), f"{game}'s trial runs beside"
    return trial


async def trial_pass(engine: Engine, game: str, st: GameState | None, now: float) -> None:
    """Sample a running instead trial; finish it when its time is up."""
    trial = _record(engine, game)
    if st is None:
        trial.status = "abandoned"
        return
    figures = measure(engine, st)
    if figures.episodes_per_hour or figures.sps:
        trial.trial = figures
    if now >= trial.ends_at or st.state == "crash_loop":
        await finish(engine, game, now)


async def finish(engine: Engine, game: str, now: float) -> None:
    """Back to the settings from before the trial, its learning kept or discarded;
    report side by side."""
    trial = _record(engine, game)
    # Status last: a client reading state() during the await sees a whole record.
    comparison = compare(trial.before, trial.trial)
    trial.ended_at, trial.comparison = now, comparison
    discarded = not trial.keep and await _discard(engine, game, trial)
    if discarded:
        outcome = f"learning discarded (back to snapshot {trial.snapshot})"
    else:
        await engine.agent.want_game(game, dict(trial.restore_settings))
        outcome = f"learning kept (rollback {game} discards it)"
        if not trial.keep:
            outcome = f"learning kept: snapshot {trial.snapshot} is gone"
    trial.discarded, trial.outcome, trial.status = discarded, outcome, "finished"
    engine.event(
        "trial_finished",
        game,
        f"trial of {game}: {summary(comparison)}; {outcome}",
        {"comparison": msgspec.to_builtins(comparison), "discarded": discarded},
    )


async def _discard(engine: Engine, game: str, trial: InsteadTrial) -> bool:
    """Restore the pre-trial snapshot and resume from it; False when it is gone
    (pruned by later migrations)."""
    snap = migration.root(engine.agent.state_dir, game) / str(trial.snapshot)
    if not (snap / migration.META).is_file():
        return False
    await stop_for_snapshot(engine, game)
    migration.restore(snap, engine.agent.run_dir(game))
    await engine.agent.want_game(game, dict(trial.restore_settings))
    return True
