"""Speed trials: run a game with candidate settings for N minutes and set the figures
side by side with its current ones (the log's 77-minute Breakout test, unattended).

Mode "instead" runs the candidate in place of the current settings: a snapshot first
(as for a migration), then the candidate settings, then back to the current settings.
The trial's learning is kept, or with `keep=False` discarded: the pre-trial snapshot is
restored, so the game goes on exactly from where it stood before the trial. `migrate
GAME` with the candidate settings adopts them. Mode "beside" runs a second trainer next
to the game's own (beside.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from controlroom.agent.errors import OpError
from controlroom.agent.policy import beside, guard, migration
from controlroom.agent.policy.actions import game_state, migrate, new_settings, stop_for_snapshot
from controlroom.agent.policy.speeds import SHAPE_KEYS

if TYPE_CHECKING:
    from controlroom.agent.policy.engine import PolicyEngine

FIGURES = ("episodes_per_hour", "sps", "gpu_memory_used", "gpu_temp_c")


def measure(engine: PolicyEngine, st: dict[str, Any]) -> dict[str, Any]:
    """The figures a trial compares, from a GameState and the GPU temperature now."""
    m = st.get("metrics") or {}
    tel = engine.agent.telemetry()
    return {"episodes_per_hour": m.get("episodes_per_hour"), "sps": m.get("sps"),
            "gpu_memory_used": st.get("gpu_memory_used"),
            "gpu_temp_c": guard.load_from({}, tel).gpu_temp_c,
            "episodes": m.get("episodes"),
            "settings": _shape(st.get("settings") or {})}  # fmt: skip


def _shape(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: settings.get(k) for k in SHAPE_KEYS}


MODES = ("instead", "beside")


async def start_trial(engine: PolicyEngine, game: str, changes: dict[str, Any], *,
                      minutes: float, keep: bool | None = None,
                      mode: str = "instead") -> dict[str, Any]:  # fmt: skip
    """Instead: snapshot, switch to the candidate settings, and finish after `minutes`,
    keeping the trial's learning (keep None or True) or restoring the snapshot. Beside:
    a second trainer; `keep` None waits for trial_decide."""
    if not 0 < minutes <= 7 * 24 * 60:
        raise OpError("invalid", "minutes must be in (0, 10080]")
    if mode not in MODES:
        raise OpError("invalid", f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if game in engine.trials_running():
        raise OpError("invalid", f"a trial of {game} is already running")
    undecided = engine.trials.get(game) or {}
    if undecided.get("mode") == "beside" and undecided.get("decision") is None:
        raise OpError("invalid", f"the beside trial of {game} waits for trial_decide "
                      "(keep or discard) first")  # fmt: skip
    st = game_state(engine, game)
    if mode == "beside":
        trial = await beside.start(engine, game, changes, minutes=minutes, keep=keep,
                                   before=measure(engine, st))
        engine.event("trial_started", game, f"beside trial of {game} for {minutes:g} min: "
                     f"{_shape(trial['restore_settings'])} -> {_shape(trial['settings'])}",
                     {"mode": "beside", "dir": trial["dir"]})  # fmt: skip
        return {"trial": trial}
    keep = True if keep is None else keep
    current = dict(st.get("settings") or {})
    if new_settings(current, changes) == current:
        raise OpError("invalid", "the candidate settings are the current ones")
    before = measure(engine, st)
    result = await migrate(engine, game, changes, reason="trial")
    now = time.time()
    trial = {"game": game, "status": "running", "started_at": now,
             "ends_at": now + minutes * 60.0, "minutes": minutes, "snapshot": result["snapshot"],
             "restore_settings": current, "before": before, "trial": None,
             "keep": keep, "mode": "instead"}  # fmt: skip
    engine.trials[game] = trial
    engine.save()
    engine.event("trial_started", game, f"trial of {game} for {minutes:g} min: "
                 f"{_shape(current)} -> {_shape(result['game']['settings'])}", {})  # fmt: skip
    return {"trial": trial}


async def trials_pass(engine: PolicyEngine, now: float) -> None:
    """Sample every running trial; finish the ones whose time is up."""
    games = engine.agent.games()
    for game in sorted(engine.trials_running()):
        trial, st = engine.trials[game], games.get(game)
        if trial.get("mode") == "beside":
            await _beside_pass(engine, game, st, now)
            continue
        if st is None:
            trial["status"] = "abandoned"
            continue
        figures = measure(engine, st)
        if figures["episodes_per_hour"] or figures["sps"]:
            trial["trial"] = figures
        if now >= trial["ends_at"] or st.get("state") == "crash_loop":
            await finish(engine, game, now)


async def _beside_pass(engine: PolicyEngine, game: str, st: dict[str, Any] | None,
                       now: float) -> None:  # fmt: skip
    if game not in engine.beside:  # gone with an agent restart: adopt() reported it
        return
    beside.sample(engine, game, st, measure(engine, st) if st is not None else None)
    why = beside.due(engine, game, now, st)
    if why is not None:
        await beside.finish(engine, game, now, why)


async def finish(engine: PolicyEngine, game: str, now: float) -> None:
    """Back to the settings from before the trial, its learning kept or discarded;
    report side by side."""
    trial = engine.trials[game]
    # Status last: a client reading state() during the await sees a whole record.
    trial["ended_at"], trial["comparison"] = now, compare(trial["before"], trial["trial"])
    discarded = not trial.get("keep", True) and await _discard(engine, game, trial)
    if discarded:
        outcome = f"learning discarded (back to snapshot {trial['snapshot']})"
    else:
        await engine.agent.want_game(game, dict(trial["restore_settings"]))
        outcome = f"learning kept (rollback {game} discards it)"
        if not trial.get("keep", True):
            outcome = f"learning kept: snapshot {trial['snapshot']} is gone"
    trial["discarded"], trial["outcome"], trial["status"] = discarded, outcome, "finished"
    engine.event("trial_finished", game, f"trial of {game}: {summary(trial['comparison'])}; "
                 f"{outcome}", {"comparison": trial["comparison"],
                                "discarded": discarded})  # fmt: skip


async def _discard(engine: PolicyEngine, game: str, trial: dict[str, Any]) -> bool:
    """Restore the pre-trial snapshot and resume from it; False when it is gone
    (pruned by later migrations)."""
    snap = migration.root(engine.agent.state_dir, game) / str(trial.get("snapshot"))
    if not (snap / migration.META).is_file():
        return False
    await stop_for_snapshot(engine, game)
    migration.restore(snap, engine.agent.run_dir(game))
    await engine.agent.want_game(game, dict(trial["restore_settings"]))
    return True


def compare(before: dict[str, Any] | None, during: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per figure: current settings vs the candidate."""
    b, t = before or {}, during or {}
    rows = [{"figure": "settings", "current": b.get("settings"), "trial": t.get("settings")}]
    return rows + [{"figure": f, "current": b.get(f), "trial": t.get(f)} for f in FIGURES]


def summary(rows: list[dict[str, Any]]) -> str:
    """'episodes_per_hour 20 -> 782, sps ...' for the event line."""

    def fmt(v: Any) -> str:
        return "?" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)

    return ", ".join(f"{r['figure']} {fmt(r['current'])} -> {fmt(r['trial'])}"
                     for r in rows if r["figure"] != "settings")  # fmt: skip
