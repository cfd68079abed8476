"""The policy engine: the agent core's one handle on profiles, guard, ramp, trials,
plan and queue (docs/agent-internals.md is the contract).

Every tick runs the same short passes in order: measure speeds, the guard's running
check, trials, the queue, the ramp. Decisions come from the pure modules next to this
one; this class only reads the agent's state, acts through the agent's seam, persists
its own state in the agent's kv store (so a reboot, the very thing the ramp measures,
loses nothing) and pushes the "policy" part of the State when it changes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, replace

import msgspec

from controlroom import protocol
from controlroom.agent.core import AgentCore
from controlroom.agent.policy import beside, guard, host_actions, ramp, saved, trial, tune
from controlroom.agent.policy.figures import shape_data, shape_from, shape_present
from controlroom.agent.policy.live_plan import plan
from controlroom.agent.policy.queue import Slot, is_active, reached_target
from controlroom.agent.policy.seam import TrialTrainer, TuneRun
from controlroom.agent.policy.speeds import SpeedBook, speed_from_game
from controlroom.agent.readings.reading import HostReading
from controlroom.agent.supervision import placement
from controlroom.config import Settings, settings_problem
from controlroom.protocol import AnyTrial, GameState, PolicyState, StateUpdate
from controlroom.span import Span

KV_STATE = "policy.state"
KV_SPEEDS = "policy.speeds"
PLAN_EVERY_S = 10.0  # the plan reads the boot history: no need to redo it every tick
SPEEDS_SAVE_S = 30.0
REPUBLISH_S = 10.0


class PolicyEngine:
    """Constructed by the core once the store and supervisor exist. It satisfies both
    seams: core.PolicyView (what the core calls) and seam.Engine (what the action
    modules call)."""

    def __init__(self, agent: AgentCore) -> None:
        self.agent = agent
        kept = saved.load(agent.store.kv_get(KV_STATE))
        self.ramp, self.watch, self.queue = kept.ramp, kept.guard, kept.queue
        self.trials: dict[str, AnyTrial] = kept.trials
        self.profile: str | None = kept.profile
        self.tune = kept.tune  # tunes by game, persisted (tune.py)
        self.tune_run: TuneRun | None = None  # the running rung's measure, in memory
        self.beside: dict[str, TrialTrainer] = {}  # beside trials' second trainers
        self.book = SpeedBook.load(agent.store.kv_get(KV_SPEEDS))
        # One policy action at a time, ops and ticks alike; taken before the core's
        # locks, never after (daemon.py gives the order).
        self.lock = asyncio.Lock()
        self.last_refusal: str | None = None
        self._ramp_said: set[str] = set()  # the ramp's skip lines already in an event
        self._plan: protocol.Plan | None = None
        self._plan_at = self._speeds_at = self._published_at = 0.0
        self._published = b""
        self._booted = False
        beside.adopt(self)

    # ---- the seam ----------------------------------------------------------------
    def before_resume(self) -> list[str]:
        """Before the core resumes the wanted games: notice a reboot (the ramp backs off
        a step), follow the config's ramp switch, and name the ramp games above the
        step, which the core then leaves stopped instead of starting them."""
        self._boot_pass()
        if not self.ramp.enabled:
            return []
        step_games = set(self.steps()[self.ramp.step])
        return [g for g in self.agent.config.ramp.games if g not in step_games]

    async def on_start(self) -> None:
        """After the core resumed the wanted games: converge the ramp's step."""
        self._boot_pass()  # a no-op when before_resume already ran it
        async with self.lock:
            if self.ramp.enabled:
                await self.converge_ramp()
            await tune.on_start(self)
            self.save()

    def _boot_pass(self) -> None:
        if self._booted:
            return
        self._booted, now = True, time.time()
        msg = ramp.on_boot(self.ramp, self.agent.boot_id, now)
        if msg is not None:
            self.event("ramp_ceiling", None, msg, self._ramp_data())
        enabled = self.agent.config.ramp.enabled
        if enabled and not self.ramp.enabled:
            ramp.enable(self.ramp, self.steps(), now, self.agent.boot_id)
        elif not enabled and self.ramp.enabled:
            ramp.disable(self.ramp)
        self.save()

    async def tick(self, now: float) -> None:
        """One pass; skipped while an op is acting so the two never interleave, but the
        policy state still goes out: the guard's load moves while an op (a ramp step
        waiting out a trainer's stop grace) holds the lock for minutes."""
        if self.lock.locked():
            self.publish(now)
            return
        async with self.lock:
            games, tel = self.agent.games(), self.agent.telemetry()
            self._record_speeds(games, tel, now)
            self.watch.paused = [
                g for g in self.watch.paused if g in games and games[g].state == "paused"
            ]
            await self._guard_pass(games, tel, now)
            await self._trials_pass(now)
            await tune.tune_pass(self, now)
            await self._queue_pass()
            await self._ramp_pass(now)
            self.save()
        self.publish(now)

    def check_scale(self, game: str, settings: Settings) -> str | None:
        """The guard's verdict on running `game` with `settings`, on the GPUs placement
        would give it (a GPU too full goes to another, or the refusal names it)."""
        games, tel = self.agent.games(), self.agent.telemetry()
        devices, need = placement.inputs(game, settings, games, tel)
        where = placement.place(
            game,
            settings,
            devices,
            need=need,
            budget=self.agent.config.guard.max_gpu_memory_fraction,
            preferred=games[game].gpus if game in games else [],
            max_temp_c=self.agent.config.guard.max_gpu_temp_c,
        )
        if where.refusal is not None:
            return where.refusal
        load, change = guard.change_for(games, tel, game, settings, where.gpus)
        return guard.verdict(self.agent.config.guard, self.with_trials(load), change)

    def with_trials(self, load: guard.Load) -> guard.Load:
        """The load with the beside trials' second trainers counted in."""
        more = beside.added_load(self)
        return replace(load, envs=load.envs + more.envs, trainers=load.trainers + more.trainers)

    def state(self) -> PolicyState:
        """The snapshot's "policy" value."""
        cfg = self.agent.config
        load = self.with_trials(guard.load_from(self.agent.games(), self.agent.telemetry()))
        return PolicyState(
            profile=self.profile,
            ramp=ramp.view(self.ramp, self.steps(), cfg.ramp.stable_minutes * 60.0),
            guard=protocol.GuardView(
                budgets=host_actions.budgets_of(cfg.guard),
                load=msgspec.convert(load, protocol.GuardLoad, from_attributes=True),
                breach=guard.breach(cfg.guard, load),
                paused=list(self.watch.paused),
                last_refusal=self.last_refusal,
            ),
            queue=host_actions.queue_view(self),
            trials=self.trials,
            plan=self.plan(time.time()),
            tunes=dict(self.tune.tunes),
        )

    # ---- trials: the engine picks the mode -----------------------------------------
    async def start_trial(
        self,
        game: str,
        changes: Settings,
        *,
        minutes: float,
        keep: bool | None = None,
        mode: str = "instead",
    ) -> AnyTrial:
        """Instead (trial.py): the candidate in place of the current settings. Beside
        (beside.py): a second trainer; `keep` None waits for trial_decide."""
        trial.check_request(self, game, minutes, mode)
        if mode == "instead":
            return await trial.start(self, game, changes, minutes=minutes, keep=keep)
        record = await beside.start(self, game, changes, minutes=minutes, keep=keep)
        self.event(
            "trial_started",
            game,
            f"beside trial of {game} for {minutes:g} min: "
            f"{shape_data(record.restore_settings)} -> {shape_data(record.settings)}",
            {"mode": "beside", "dir": record.dir},
        )
        return record

    async def _trials_pass(self, now: float) -> None:
        """Sample every running trial; finish the ones whose time is up."""
        games = self.agent.games()
        for game in sorted(self.trials_running()):
            mode_pass = (
                beside.trial_pass
                if isinstance(self.trials[game], protocol.BesideTrial)
                else trial.trial_pass
            )
            await mode_pass(self, game, games.get(game), now)

    # ---- helpers the op handlers share ---------------------------------------------
    def steps(self) -> list[list[str]]:
        """The ramp's steps from the current config."""
        return ramp.steps(self.agent.config.ramp)

    def event(
        self, kind: str, game: str | None, message: str, data: protocol.JSONObject | None = None
    ) -> None:
        """Record and push an event."""
        self.agent.store.add_event(kind, game, message, data)

    def refuse(self, game: str | None, verdict: str) -> None:
        """Record a guard refusal once (a retried ramp step must not flood the log)."""
        if verdict != self.last_refusal:
            self.event("guard_refused", game, verdict)
        self.last_refusal = verdict

    def invalid(self, game: str, settings: Settings) -> bool:
        """Whether settings the policy built itself (a ramp step, a queue slot) fail the
        one check every path passes (config.settings_problem); said once (an `error`
        event, as a guard refusal is said once), and the caller starts nothing. A
        config that loaded makes this rare: it is the supervisor's check, made first."""
        problem = settings_problem(settings)
        if problem is not None and problem != self.last_refusal:
            self.event("error", game, f"{game} not started: {problem}")
        if problem is not None:
            self.last_refusal = problem
        return problem is not None

    def save(self) -> None:
        """Persist everything but the speed book (saved on its own, less often)."""
        kept = saved.SavedPolicy(
            ramp=self.ramp,
            guard=self.watch,
            queue=self.queue,
            trials=self.trials,
            profile=self.profile,
            tune=self.tune,
        )
        self.agent.store.kv_set(KV_STATE, saved.dump(kept))

    def plan(self, now: float, fresh: bool = False) -> protocol.Plan:
        """The plan, recomputed at most every PLAN_EVERY_S unless `fresh`."""
        if fresh or self._plan is None or now - self._plan_at >= PLAN_EVERY_S:
            self._plan, self._plan_at = plan(self, now), now
        return self._plan

    def publish(self, now: float, force: bool = False) -> None:
        """Push the policy state when it changed (or every REPUBLISH_S for the clocks)."""
        state = self.state()
        text = msgspec.json.encode(state)
        if force or text != self._published or now - self._published_at >= REPUBLISH_S:
            self.agent.publish(StateUpdate(policy=state))
            self._published, self._published_at = text, now

    def ramp_settings(self, game: str) -> Settings:
        """A ramp game's settings: its config settings at the ramp's shape."""
        return {**self.agent.config.game_settings(game), **shape_from(self.agent.config.ramp)}

    # ---- the ramp -----------------------------------------------------------------
    async def converge_ramp(self) -> None:
        """Run exactly the current step's ramp games: stop those above it (after a
        back-off), start the missing ones the guard allows."""
        step_games = self.steps()[self.ramp.step]
        games = self.agent.games()
        for name in self.agent.config.ramp.games:
            st = games.get(name)
            if self._ramp_leaves(name, st):
                continue
            if name not in step_games and st is not None and is_active(st):
                await self.agent.stop_trainer(name)
        for name in step_games:
            st = games.get(name)
            if self._ramp_leaves(name, st):
                continue
            if st is not None and (is_active(st) or reached_target(st)):
                continue
            settings = self.ramp_settings(name)
            if self.invalid(name, settings):
                continue
            verdict = self.check_scale(name, settings)
            if verdict is not None:
                self.refuse(name, verdict)
                continue
            await self.agent.want_game(name, settings)
            self.queue.waiting = [g for g in self.queue.waiting if g != name]

    def _ramp_leaves(self, name: str, st: GameState | None) -> bool:
        """Whether the ramp leaves a part of a job over several hosts alone (an event
        says so, once per reason)."""
        why = ramp.left_alone(name, st, self.ramp_settings(name))
        if why is not None and why not in self._ramp_said:
            self._ramp_said.add(why)
            self.event("ramp_skipped", name, why)
        return why is not None

    async def _ramp_pass(self, now: float) -> None:
        if not self.ramp.enabled:
            return
        all_steps = self.steps()
        hold = self._ramp_hold(all_steps)
        if hold is not None and hold.startswith("waiting"):
            await self.converge_ramp()
        if ramp.tick(self.ramp, all_steps, now, self.agent.config.ramp.stable_minutes * 60, hold):
            added = all_steps[self.ramp.step][-1]
            self.event(
                "ramp_step",
                added,
                f"ramp step {self.ramp.step}: added {added} "
                f"({len(all_steps[self.ramp.step])} games)",
                self._ramp_data(),
            )
            await self.converge_ramp()

    def _ramp_hold(self, all_steps: list[list[str]]) -> str | None:
        """Why the stable window may not count now, or None."""
        games = self.agent.games()
        for name in all_steps[self.ramp.step]:
            st = games.get(name)
            if (st is not None and reached_target(st)) or self._ramp_leaves(name, st):
                continue
            if st is not None and st.state == "crash_loop":
                return f"crash loop: {name}"
            if st is not None and st.state == "paused":
                return f"guard paused {name}"
            if st is None or st.state != "running":
                return f"waiting for {name} to run"
        load = guard.load_from(games, self.agent.telemetry())
        over = guard.breach(self.agent.config.guard, load)
        if over is not None:
            return f"guard: {over}"
        return self._next_step_refusal(all_steps)

    def _next_step_refusal(self, all_steps: list[list[str]]) -> str | None:
        if self.ramp.step >= ramp.top(self.ramp, all_steps):
            return None
        nxt = all_steps[self.ramp.step + 1][-1]
        verdict = self.check_scale(nxt, self.ramp_settings(nxt))
        if verdict is not None:
            self.refuse(nxt, verdict)
        return verdict

    def _ramp_data(self) -> protocol.JSONObject:
        return {
            "step": self.ramp.step,
            "ceiling": self.ramp.ceiling,
            "games": self.steps()[self.ramp.step],
        }

    # ---- the guard's running check and the queue ------------------------------------
    async def _guard_pass(self, games: dict[str, GameState], tel: HostReading, now: float) -> None:
        running = {n: s.added_at for n, s in games.items() if s.wanted and s.state == "running"}
        load = self.with_trials(guard.load_from(games, tel))
        over = guard.breach(self.agent.config.guard, load)
        if over is not None and self.beside:  # a trial is the first load to shed
            name = sorted(self.beside)[0]
            await beside.finish(self, name, now, f"the guard stopped it: {over}")
            return
        placed = {n: list(s.gpus) for n, s in games.items()}
        act = self.watch.step(self.agent.config.guard, load, running, now, placed)
        if act is None:
            return
        kind, name, reason = act
        if kind == "pause":
            await self.agent.stop_trainer(name)
            self.agent.mark_paused(name, True)
            message = guard.pause_text(games[name], reason)
            self.event("guard_paused", name, message, {"load": asdict(load)})
            return
        self.agent.mark_paused(name, False)
        await self.agent.want_game(name, dict(games[name].settings))
        self.event("guard_resumed", name, f"resumed {name}: {reason}", {"load": asdict(load)})

    async def _queue_pass(self) -> None:
        games = self.agent.games()
        self.queue.collect(games)
        while (nxt := self.queue.next_start(games)) is not None:
            name, slot = nxt
            settings, shape, note = self._queued(name, slot, games.get(name))
            if self.invalid(name, settings):
                self.queue.put_back(name, slot)
                return
            verdict = self.check_scale(name, settings)
            if verdict is not None:
                self.queue.put_back(name, slot)
                self.refuse(name, verdict)
                return
            await self.agent.want_game(name, settings)
            self.event(
                "queue_started",
                name,
                f"{name} started in the slot {slot.game} freed{note}",
                {"from": slot.game, "settings": shape},
            )
            games = self.agent.games()

    def _queued(
        self, name: str, slot: Slot, stored: GameState | None
    ) -> tuple[Settings, Settings, str]:
        """The settings a waiting game starts with in `slot`, the shape it gets, and a
        note for the event: the slot's shape, except for a part of a job over several
        hosts (stored so, or configured so), which keeps its own settings and its span:
        the slot's shape on this node alone would make its job refuse to start."""
        if stored is not None and stored.span is not None:
            own = dict(stored.settings)
        else:
            own = self.agent.config.game_settings(name)
        span = Span.of(own)
        if span.spans:
            note = (
                f"; it keeps its own settings: part of a job over {span.nodes} hosts (node "
                f"{span.node_rank} of job {span.job_id}), whose nodes must run the same shape"
            )
            return own, shape_present(own), note
        shape = shape_present(slot.settings)
        return {**own, **shape}, shape, ""

    def _record_speeds(self, games: dict[str, GameState], tel: HostReading, now: float) -> None:
        temp = guard.load_from(games, tel).gpu_temp_c
        for name, st in games.items():
            speed = speed_from_game(st, temp) if st.state == "running" else None
            if speed is not None:
                self.book.record(name, st.settings, speed)
        if now - self._speeds_at >= SPEEDS_SAVE_S:
            self.agent.store.kv_set(KV_SPEEDS, self.book.dump())
            self._speeds_at = now

    def trials_running(self) -> set[str]:
        """Games in a trial now."""
        return {g for g, t in self.trials.items() if t.status == "running"}
