"""Tune: measure a ladder of shapes for a running game and choose the fastest the host
holds (the log's lost day of speed tests, unattended). Built on the instead trial's
mechanism: a snapshot of the game first (as a migration takes), then each candidate
shape in place of the game's own, from the game's own checkpoint, so its progress goes
on (the checkpoint lineage is one; no episode is lost); after the ladder the game goes
back to the shape it had, unless the user applies the result (`tune_apply`, a
migration). A climb that found a faster shape measures the game's own shape once more
before it chooses (the recheck): the rungs ran one after another, and a gain the host's
drift explains is refused. The search's rules are tune_search.py's; this module applies
them.

Restart and reboot (the state is in the kv store, tune_search.TuneBook): an agent
restart on the same boot resumes the tune, measuring the running rung again from the
start (its samples were in memory); a reboot while a candidate ran records that rung as
unstable (the ceiling learned, as the ramp learns its own) and finishes the tune with
the rungs measured before it, the game back on its shape. A recheck that cannot be
measured (a reboot, a crash, the guard's pause) leaves the climb's choice standing,
said to be unconfirmed.
"""

from __future__ import annotations

import time

import msgspec

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.policy import tune_measure, tune_search
from controlroom.agent.policy.figures import shape
from controlroom.agent.policy.host_actions import (
    check_guard,
    game_state,
    migrate,
    new_settings,
    refuse_part_of_job,
    snapshot,
    stop_for_snapshot,
    tuned_shape,
)
from controlroom.agent.policy.seam import Engine, TuneRun
from controlroom.agent.policy.tune_search import Window
from controlroom.config import settings_problem
from controlroom.protocol import GameState, TuneRung, TuneState

FAILED_STATES = ("crashed", "backoff", "crash_loop", "hung")


def check_request(engine: Engine, games: list[str]) -> None:
    """Refuse a tune that cannot start; changes nothing."""
    if len(set(games)) != len(games):
        raise OpError("invalid", "a game is named twice")
    if engine.tune.running() is not None or engine.tune.waiting:
        raise OpError("invalid", "a tune is running; tune_cancel it first")
    for game in games:
        st = game_state(engine, game)
        refuse_part_of_job(st, "a tune")
        if game in engine.trials_running():
            raise OpError("invalid", f"a trial of {game} is running")
        if st.state != "running":
            raise OpError("invalid", f"{game} is {st.state}: a tune measures a running game")


def plan_ladder(engine: Engine, st: GameState, minutes: float) -> TuneState:
    """A game's tune as it would start now: its ladder and the time per rung."""
    cfg = engine.agent.config
    envs, _steps, mb = shape(st.settings)
    others = sum(
        int(g.settings.get("num_envs") or 0)
        for n, g in engine.agent.games().items()
        if n != st.game and g.state in ("starting", "running")
    )
    ceiling = engine.tune.ceilings.get(st.game)
    threads = st.settings.get("torch_threads")
    rungs = tune_search.ladder(
        envs,
        mb,
        max_envs=cfg.guard.max_total_envs - others,
        ceiling=ceiling,
        max_rungs=cfg.tune.max_rungs,
        threads=int(threads) if threads else None,
    )
    # A shape the one settings check refuses (a bound, the minibatch dividing the
    # rollout) ends the ladder there: it could not start.
    for i, rung in enumerate(rungs[1:], start=1):
        if settings_problem({**st.settings, **tune_search.rung_settings(rung)}) is not None:
            rungs = rungs[:i]
            break
    return TuneState(
        game=st.game,
        minutes=minutes,
        rung_s=tune_search.rung_seconds(minutes, tune_search.measures(len(rungs))),
        restore_settings=dict(st.settings),
        rungs=rungs,
        ceiling=ceiling,
        started_at=time.time(),
    )


async def start(
    engine: Engine, games: list[str], minutes: float, dry_run: bool
) -> protocol.TuneChange:
    """Plan each game's ladder; unless a dry run, start the first and queue the rest."""
    check_request(engine, games)
    planned = {g: plan_ladder(engine, game_state(engine, g), minutes) for g in games}
    if dry_run:
        return protocol.TuneChange(tunes=planned, waiting=games[1:], dry_run=True)
    for game in games[1:]:
        planned[game].waiting = True
        engine.tune.tunes[game] = planned[game]
    engine.tune.waiting = list(games[1:])
    await _begin(engine, games[0], minutes)
    engine.save()
    return change(engine)


def change(engine: Engine) -> protocol.TuneChange:
    """The tunes now, as the ops answer."""
    return protocol.TuneChange(tunes=dict(engine.tune.tunes), waiting=list(engine.tune.waiting))


async def _begin(engine: Engine, game: str, minutes: float) -> None:
    """Snapshot the game (its progress, to roll back to) and measure its current shape."""
    st = game_state(engine, game)
    t = plan_ladder(engine, st, minutes)
    engine.tune.tunes[game] = t
    engine.tune.boot_id = engine.agent.boot_id
    if st.state != "running":
        await _end(engine, t, "failed", f"{game} is {st.state}: nothing measured")
        return
    t.before = tune_measure.figures(engine, game)  # while it runs: its rate is the trainer's now
    was_wanted = st.wanted
    st = await stop_for_snapshot(engine, game)
    t.snapshot = snapshot(engine, game, msgspec.structs.replace(st, wanted=was_wanted), "tune")
    await engine.agent.want_game(game, dict(t.restore_settings))
    engine.event(
        "tune_started",
        game,
        f"tune of {game}: {len(t.rungs)} shapes, {t.rung_s:.0f} s each, num_envs "
        + ", ".join(str(r.num_envs) for r in t.rungs),
        {"rungs": [msgspec.to_builtins(r) for r in t.rungs], "snapshot": t.snapshot},
    )
    _open_rung(engine, t, 0)


def _open_rung(engine: Engine, t: TuneState, index: int) -> None:
    """Start measuring rung `index` (its trainer is started)."""
    t.current = index
    _open(engine, t, t.rungs[index])


def _open(engine: Engine, t: TuneState, rung: TuneRung) -> None:
    """Start measuring `rung`, a rung of the ladder or the recheck (its trainer is
    started)."""
    st = game_state(engine, t.game)
    rung.verdict, rung.started_at = tune_search.RUNNING, time.time()
    warmup = engine.agent.config.tune.warmup_updates
    window = Window(since=rung.started_at, warmup=warmup)
    engine.tune_run = TuneRun(game=t.game, restarts=st.restarts, windows={t.game: window})


def _measuring(t: TuneState) -> TuneRung:
    """The rung measured now: the recheck while it runs, else the ladder's current."""
    if t.recheck is not None and t.rechecking:
        return t.recheck
    return t.rungs[t.current or 0]


async def tune_pass(engine: Engine, now: float) -> None:
    """One tick: sample the running rung, end it when its time is up, climb or stop;
    begin the next waiting game when none runs. An op's refusal on the way (the game
    removed, its settings refused) ends the tune as failed, never the tick."""
    try:
        await _tune_pass(engine, now)
    except OpError as exc:
        t = engine.tune.running()
        if t is not None:
            await _end(engine, t, "failed", exc.message)


async def _tune_pass(engine: Engine, now: float) -> None:
    t = engine.tune.running()
    if t is None:
        if engine.tune.waiting:
            nxt = engine.tune.tunes[engine.tune.waiting.pop(0)]
            nxt.waiting = False  # running now: a refusal in _begin ends it as failed
            await _begin(engine, nxt.game, nxt.minutes)
        return
    rung = _measuring(t)
    if engine.tune_run is None or engine.tune_run.game != t.game:
        _open(engine, t, rung)  # after an agent restart: measure afresh
    run = engine.tune_run
    assert run is not None
    games = engine.agent.games()
    st = games.get(t.game)
    if st is None:
        await _end(engine, t, "abandoned", f"{t.game} was removed")
        return
    if t.rechecking:
        await _recheck_pass(engine, t, run, st, now)
        return
    trouble = _trouble(st, run)
    if trouble is not None:
        await _unstable(engine, t, rung, trouble)
        return
    if st.state == "paused":
        await _stop_at(engine, t, rung, tune_search.OVER_BUDGET, "the guard paused it")
        return
    tune_measure.sample(run, games, t.game)
    started = rung.started_at or now
    if now < started + t.rung_s:
        return
    cand, spent = run.windows[t.game], now - started
    hung_at, out_of_time = started + 2 * t.rung_s, now >= _deadline(t)
    if cand.steps_per_s() is not None:
        await _measured(engine, t, rung, run, st)
    elif cand.updates == 0 and now >= hung_at:
        await _unstable(engine, t, rung, f"hung: no update in {spent:.0f} s")
    elif cand.updates == 0 and out_of_time:
        await _stop_at(engine, t, rung, tune_search.PENDING, "the tune's minutes ran out")
    elif now >= hung_at or out_of_time:
        why = f"too slow to measure: {cand.updates} update(s) in {spent:.0f} s"
        await _stop_at(engine, t, rung, tune_search.DIMINISHING, why)


async def _recheck_pass(
    engine: Engine, t: TuneState, run: TuneRun, st: GameState, now: float
) -> None:
    """One tick of the recheck: sample the own shape, and once its time is up, choose
    with its figure. Not measured (a crash, the guard's pause, no update in twice its
    time): the climb's choice stands, unconfirmed."""
    trouble = _trouble(st, run) or ("the guard paused it" if st.state == "paused" else None)
    if trouble is not None:
        await _unconfirmed(engine, t, trouble)
        return
    tune_measure.sample(run, engine.agent.games(), t.game)
    assert t.recheck is not None
    started = t.recheck.started_at or now
    if now < started + t.rung_s:
        return
    if run.windows[t.game].steps_per_s() is not None:
        tune_measure.fill(engine, t.recheck, run, st)
        _close(engine, t, t.recheck, tune_search.OK, "the game's own shape again, after the climb")
        await _end(engine, t, "finished", t.reason)
    elif now >= started + 2 * t.rung_s:
        await _unconfirmed(engine, t, f"no measure in {now - started:.0f} s")


async def _unconfirmed(engine: Engine, t: TuneState, why: str) -> None:
    """The recheck could not be measured: the climb's choice stands, said so."""
    assert t.recheck is not None
    _close(engine, t, t.recheck, tune_search.PENDING, f"not measured again: {why}")
    await _end(engine, t, "finished", f"{t.reason}; the choice is unconfirmed")


def _deadline(t: TuneState) -> float:
    """When the tune's minutes are up (a rung may overrun it by half its time)."""
    return t.started_at + t.minutes * 60.0 + t.rung_s / 2


def _trouble(st: GameState, run: TuneRun) -> str | None:
    """Why the candidate failed (crashed, restarted, hung), or None."""
    if st.state == "hung":
        return "hung: no sign of life within hang_timeout_s"
    if st.state in FAILED_STATES:
        return f"crashed ({st.state}: {st.last_exit or 'no exit reason'})"
    if st.restarts > run.restarts:
        return f"crashed and restarted ({st.last_exit or 'no exit reason'})"
    return None


async def _measured(
    engine: Engine, t: TuneState, rung: TuneRung, run: TuneRun, st: GameState
) -> None:
    """Fill the rung's figures, judge it, and climb to the next or stop."""
    tune_measure.fill(engine, rung, run, st)
    index = t.current or 0
    cfg = engine.agent.config
    best = tune_search.best_below(t.rungs, index)
    verdict = tune_search.judge(
        rung, best, min_gain=cfg.tune.min_gain, max_temp_c=cfg.guard.max_gpu_temp_c
    )
    if verdict != tune_search.OK:
        why = (
            f"GPU at {rung.temp_c:.0f}C >= max_gpu_temp_c {cfg.guard.max_gpu_temp_c:.0f}"
            if verdict == tune_search.HOT
            else f"less than {cfg.tune.min_gain:.0%} over {best.num_envs if best else '-'} envs"
        )
        await _stop_at(engine, t, rung, verdict, why)
        return
    _close(engine, t, rung, tune_search.OK, "measured")
    if index + 1 >= len(t.rungs):
        await _end(engine, t, "finished", "the top of the ladder (guard envs, ceiling, max_rungs)")
        return
    if time.time() + 2 * t.rung_s > _deadline(t):  # the next rung, then the recheck
        await _end(engine, t, "finished", "the tune's minutes ran out")
        return
    nxt = t.rungs[index + 1]
    over = tune_search.over_budget(rung, nxt, tune_measure.memory(engine)) or engine.check_scale(
        t.game, new_settings(dict(st.settings), tune_search.rung_settings(nxt))
    )
    if over is not None:
        await _stop_at(engine, t, nxt, tune_search.OVER_BUDGET, over)
        return
    await _switch(engine, t, index + 1)


async def _switch(engine: Engine, t: TuneState, index: int) -> None:
    """Run rung `index` in place of the running shape, from the game's checkpoint."""
    current = dict(game_state(engine, t.game).settings)
    settings = new_settings(current, tune_search.rung_settings(t.rungs[index]))
    try:
        check_guard(engine, t.game, settings)
    except OpError as exc:
        await _stop_at(engine, t, t.rungs[index], tune_search.OVER_BUDGET, exc.message)
        return
    engine.save()
    await engine.agent.want_game(t.game, settings)
    _open_rung(engine, t, index)
    engine.save()


def _close(engine: Engine, t: TuneState, rung: TuneRung, verdict: str, reason: str) -> None:
    """A rung's verdict, said in an event (the recheck's index is None)."""
    rung.verdict, rung.reason, rung.ended_at = verdict, reason, time.time()
    sps = f"{rung.steps_per_s:.0f} steps/s on the host" if rung.steps_per_s else "not measured"
    index = next((i for i, r in enumerate(t.rungs) if r is rung), None)
    engine.event(
        "tune_rung",
        t.game,
        f"tune of {t.game}: {rung.num_envs} envs, minibatch {rung.minibatch_size}"
        f"{' again' if index is None else ''}: {verdict} ({sps}; {reason})",
        {"rung": msgspec.to_builtins(rung), "index": index},
    )


async def _stop_at(engine: Engine, t: TuneState, rung: TuneRung, verdict: str, why: str) -> None:
    _close(engine, t, rung, verdict, why)
    await _end(engine, t, "finished", f"{rung.num_envs} envs: {verdict} ({why})")


async def _unstable(engine: Engine, t: TuneState, rung: TuneRung, why: str) -> None:
    """A candidate that crashed, hung or went down with the host: the game's ceiling."""
    if rung is not t.rungs[0]:
        ceiling = min(rung.num_envs, engine.tune.ceilings.get(t.game, rung.num_envs))
        engine.tune.ceilings[t.game] = t.ceiling = ceiling
    await _stop_at(engine, t, rung, tune_search.UNSTABLE, why)


async def _end(engine: Engine, t: TuneState, status: str, reason: str) -> None:
    """The ladder is over: back to the game's own shape (its learning kept); a climb
    that found a faster shape measures that own shape again first (the recheck); then
    choose, and say so."""
    st = engine.agent.games().get(t.game)
    if status == "finished" and st is not None and _needs_recheck(t):
        await _begin_recheck(engine, t, reason)
        return
    engine.tune_run = None
    if st is not None and dict(st.settings) != t.restore_settings:
        await engine.agent.want_game(t.game, dict(t.restore_settings))
    t.chosen, refused = tune_search.confirmed(
        t.rungs, t.recheck, min_gain=engine.agent.config.tune.min_gain
    )
    if refused is not None:
        reason = f"{reason}; kept its own shape: {refused}"
    if t.before.days is None:
        t.before = tune_measure.figures(engine, t.game, t.rungs[0].eps_per_h)
    if t.chosen is not None:
        base = tune_search.gain_base(t.rungs, t.recheck, t.chosen)
        t.after = tune_search.figures_after(t.before, base, t.chosen)
    t.reason, t.ended_at, t.current, t.status = reason, time.time(), None, status
    chosen = (
        f"{t.chosen.num_envs} envs, minibatch {t.chosen.minibatch_size}" if t.chosen else "nothing"
    )
    engine.event(
        "tune_finished",
        t.game,
        f"tune of {t.game} {status}: chose {chosen}; stopped at {reason}",
        {"chosen": msgspec.to_builtins(t.chosen), "rungs": len(t.rungs), "status": status},
    )
    engine.save()


def _needs_recheck(t: TuneState) -> bool:
    """A climb whose best is not the own shape, not yet rechecked."""
    best = tune_search.choose(t.rungs)
    return t.recheck is None and best is not None and best is not t.rungs[0]


async def _begin_recheck(engine: Engine, t: TuneState, reason: str) -> None:
    """The game back on its own shape, measured once more for a rung's time; `reason`
    (why the climb stopped) is kept for the tune's end."""
    own = t.rungs[0]
    t.reason, t.current = reason, None
    t.recheck = TuneRung(
        num_envs=own.num_envs, minibatch_size=own.minibatch_size, threads=own.threads
    )
    await engine.agent.want_game(t.game, dict(t.restore_settings))
    _open(engine, t, t.recheck)
    engine.save()


async def on_start(engine: Engine) -> None:
    """After an agent start: a reboot under a candidate makes that rung unstable and
    ends the tune (the game back on its shape); a plain restart measures the rung again."""
    t = engine.tune.running()
    if t is None:
        return
    rebooted = engine.tune.boot_id is not None and engine.tune.boot_id != engine.agent.boot_id
    engine.tune.boot_id = engine.agent.boot_id
    rung = t.rungs[t.current or 0]
    if rebooted and t.rechecking:
        await _unconfirmed(engine, t, "the host rebooted")
    elif rebooted and t.current:
        await _unstable(engine, t, rung, "the host rebooted under it")
    elif rebooted:
        await _end(engine, t, "abandoned", "the host rebooted while the current shape ran")
    engine.save()


async def cancel(engine: Engine) -> protocol.TuneChange:
    """Stop the running tune and drop the waiting ones; the game back on its shape."""
    t = engine.tune.running()
    for game in engine.tune.waiting:
        engine.tune.tunes[game].status, engine.tune.tunes[game].waiting = "cancelled", False
    engine.tune.waiting = []
    if t is None:
        raise OpError("not_found", "no tune is running")
    if _measuring(t).verdict == tune_search.RUNNING:
        _measuring(t).verdict = tune_search.PENDING
    await _end(engine, t, "cancelled", "cancelled")
    return change(engine)


async def apply(engine: Engine, game: str) -> protocol.TuneApplied:
    """The tune's chosen shape, applied by a migration (snapshot, rollback)."""
    t = engine.tune.tunes.get(game)
    if t is None or t.status != "finished" or t.chosen is None:
        raise OpError("invalid", f"{game} has no finished tune with a chosen shape")
    result = await migrate(engine, game, tuned_shape(engine, game))
    t.applied = True
    engine.event(
        "tune_applied",
        game,
        f"tune of {game} applied: {t.chosen.num_envs} envs, minibatch {t.chosen.minibatch_size}",
        {"snapshot": result.snapshot},
    )
    engine.save()
    return protocol.TuneApplied(tune=t, migration=result)
