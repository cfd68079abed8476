"""The agent: wires store, boots, supervisor, telemetry, server and policy together,
and dispatches requests; its periodic tasks (supervise, telemetry, heartbeat, policy
tick, evaluation) are periodic.py's, run over the parts wired here.

Its public methods are the seam core ops and the policy engine code against, typed as
`core.AgentCore` (docs/agent-internals.md); nothing but the entry point imports this.

Locks, in one order: the policy lock (`PolicyEngine.lock`) first, then the core op lock
(`Agent.lock`), then a game's lock (`Agent.game_lock(game)`); a task takes any subset of
them in that order and never waits for an earlier one while holding a later one.
- A mutating core op holds the core op lock and, when it names a game, that game's lock
  for its whole run (the dispatcher takes both). It never takes the policy lock.
- A policy op holds the policy lock and, when it names a game, that game's lock for its
  whole run (policy_ops._locked); the policy tick holds the policy lock and takes a
  game's lock for each change it makes (want_game, stop_trainer, forget_game take the
  game's lock themselves; it is re-entrant within a task).
So every read-modify-write of one game is atomic against any other change to it: a
scale_game landing while a migrate waits for the trainer to stop runs after it and keeps
both changes; an add_game of another game goes on meanwhile (not one lock for all: a
migrate may wait out a trainer's whole stop grace, minutes). Game state itself changes
only through the Supervisor's methods.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

from controlroom import __version__, protocol
from controlroom.agent.alerts import Alerts
from controlroom.agent.core_ops import CORE_OPS, MUTATING_CORE_OPS
from controlroom.agent.errors import OpError
from controlroom.agent.evaluation.ops import EVAL_OPS
from controlroom.agent.evaluation.service import Evaluations
from controlroom.agent.gamelocks import GameLocks
from controlroom.agent.learning.histories import Learning
from controlroom.agent.periodic import Periodic
from controlroom.agent.policy.engine import PolicyEngine
from controlroom.agent.policy.policy_ops import POLICY_OPS
from controlroom.agent.readings.nvml import GpuReader, open_reader
from controlroom.agent.readings.reading import HostReading
from controlroom.agent.readings.telemetry import Telemetry
from controlroom.agent.server import Message, Server
from controlroom.agent.storage import boots, paths
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision import placement
from controlroom.agent.supervision.gamerun import GameRun
from controlroom.agent.supervision.launch import check_game, check_template
from controlroom.agent.supervision.quarantine import quarantine
from controlroom.agent.supervision.supervisor import Supervisor
from controlroom.config import Config, Settings, save
from controlroom.games import known_names

log = logging.getLogger(__name__)

SNAPSHOT_EVENTS = 100


class Agent:
    """One running agent for one state dir."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        state_dir: Path,
        gpu_reader: GpuReader | None = None,
    ) -> None:
        self.config, self.config_path, self.state_dir = config, config_path, state_dir
        self.server = Server(paths.socket_path(state_dir), self.handle, self._greeting)
        self.store = Store(paths.db_path(state_dir), config.agent.max_events, loop_safe=True)
        self.learning = Learning(state_dir, self.store, lambda: self.config.diagnostics)
        self.store.on_event = self._on_event
        self.hostname = socket.gethostname()
        self.started = time.time()
        # Before the boot is recorded: a reboot's event is the first alert.
        self.alerts = Alerts(
            config.alerts, config_path, self.hostname, self.event, self._publish_alerts
        )
        info = boots.record_boot(self.store, self.started)
        self.boot_id, self.current_boot_started = info.boot_id, info.boot_time
        self.rebooted_this_start = info.rebooted
        self.telemetry_source = Telemetry(gpu_reader or open_reader(), state_dir)
        self.dirty: set[str] = set()
        self.supervisor = Supervisor(
            self.store,
            paths.runs_dir(state_dir),
            lambda: self.config.agent,
            self.dirty.add,
            self._place,
        )
        self.lock = asyncio.Lock()  # the core op lock (the lock order is above)
        self.game_locks = GameLocks()
        self.policy: PolicyEngine | None = None
        self.evaluations = Evaluations(self)  # agent/evaluation/: evaluator processes
        self.stopping = asyncio.Event()
        self.periodic = Periodic(self)  # supervise, telemetry, heartbeat, policy, evaluation

    # ---- the seam for the policy engine -------------------------------------------
    def game_lock(self, game: str) -> AbstractAsyncContextManager[None]:
        """Hold one game's lock (re-entrant within a task; the lock order is above)."""
        return self.game_locks.hold(game)

    def run_dir(self, game: str) -> Path:
        """Where a game's trainer writes."""
        return paths.runs_dir(self.state_dir) / game

    def applied_profile(self) -> str | None:
        """The profile last applied on this host (kept by the policy engine), whose
        eval_every_minutes its games take; None before the engine runs."""
        return None if self.policy is None else self.policy.profile

    def games(self) -> dict[str, protocol.GameState]:
        """Every game's protocol GameState."""
        return {name: g.to_state() for name, g in self.supervisor.games.items()}

    def telemetry(self) -> HostReading:
        """The latest GPUs (their processes attributed to games) and system."""
        t = self.telemetry_source
        return HostReading(gpus=t.gpu_states(self._games_by_pid()), system=t.system)

    async def want_game(
        self, game: str, settings: Settings, *, wanted: bool = True, reset: bool = False
    ) -> protocol.GameState:
        """Merge the settings over the game's own, then let the supervisor check them
        (launch.validate), persist the wanted state and converge (a settings change
        restarts the trainer)."""
        check_game(game)
        async with self.game_lock(game):
            g = self.supervisor.games.get(game)
            base = g.settings if g else self.config.game_settings(game)
            merged = {**base, **{k: v for k, v in settings.items() if k in base}}
            if merged.get("command"):
                check_template(merged["command"])
            return await self.want_valid_game(game, merged, wanted=wanted, reset=reset)

    async def want_valid_game(
        self, game: str, settings: Settings, *, wanted: bool = True, reset: bool = False
    ) -> protocol.GameState:
        """want_game for whole settings (the supervisor checks them all the same)."""
        async with self.game_lock(game):
            g = await self.supervisor.want(game, settings, wanted=wanted, reset=reset)
        self.flush_games()
        return g.to_state()

    async def forget_game(self, game: str) -> None:
        """Stop a game and drop it from the wanted set and the store."""
        async with self.game_lock(game):
            if not await self.supervisor.forget(game):
                return
        self.dirty.discard(game)
        self.publish(protocol.StateUpdate(games={game: None}))
        self.event("game_removed", game, f"{game} removed")

    async def stop_trainer(self, game: str) -> None:
        """Stop the trainer and keep the game, unwanted (the guard's pause uses this)."""
        async with self.game_lock(game):
            self.supervisor.mark_wanted(game, False)
            await self.supervisor.stop(self.supervisor.games[game])
        self.flush_games()

    def mark_wanted(self, game: str, wanted: bool) -> None:
        """Persist wanted/unwanted without touching the process."""
        self.supervisor.mark_wanted(game, wanted)

    def _place(self, g: GameRun) -> placement.Placement:
        """The GPUs a starting trainer gets, from the latest readings: where placement
        puts it, its previous GPUs first when they still fit. Not refused for load: the
        guard let the game in, and its running check pauses it if a GPU goes over. Only
        a host without the GPUs it needs (one was lost) makes it wait (a refusal)."""
        games = self.games()
        devices, need = placement.inputs(g.name, g.settings, games, self.telemetry())
        short = placement.shortfall(g.name, g.settings, devices, g.gpus)
        if short is not None:
            return placement.Placement(refusal=short)
        guard = self.config.guard
        chosen = placement.place_anyway(
            g.name,
            g.settings,
            devices,
            need=need,
            budget=guard.max_gpu_memory_fraction,
            preferred=g.gpus,
            max_temp_c=guard.max_gpu_temp_c,
        )
        return placement.Placement(chosen)

    def mark_paused(self, game: str, paused: bool) -> None:
        """The guard's pause flag; a paused game shows "paused" and is not restarted."""
        self.supervisor.mark_paused(game, paused)
        self.flush_games()

    def publish(self, partial_state: protocol.StateUpdate) -> None:
        """Push an update to every client."""
        self.server.broadcast(protocol.Update(state=partial_state))

    def save_config(self, cfg: Config) -> None:
        """Write the agent's config file (atomically) and use it from now on; a config
        that would not load is refused (ConfigError) and nothing changes."""
        save(cfg, self.config_path)
        self.config = cfg
        self.store.max_events = cfg.agent.max_events

    def check_scale(self, game: str, settings: Settings) -> str | None:
        """The load guard's verdict (None = allowed; no policy engine = allowed)."""
        return None if self.policy is None else self.policy.check_scale(game, settings)

    def event(
        self, kind: str, game: str | None, message: str, data: protocol.JSONObject | None = None
    ) -> None:
        """Record and push an event."""
        self.store.add_event(kind, game, message, data)

    def now(self) -> float:
        """Wall-clock time."""
        return time.time()

    # ---- state for clients --------------------------------------------------------
    def state(self) -> protocol.State:
        """The whole State of the protocol."""
        t, now = self.telemetry_source, self.telemetry()
        return protocol.State(
            host=self.host(),
            gpus=now.gpus,
            gpu_error=t.reader.error,
            system=now.system,
            games=self.games(),
            boots=self.store.boots(),
            events=self.store.events(SNAPSHOT_EVENTS),
            policy=self._policy_state(),
            history=t.history_now(),
            catalogue=self.catalogue(),
            game_defaults=self.game_defaults(),
            alerts=self.alerts.status(),
        )

    def catalogue(self) -> list[str]:
        """The games this host can run, for the laptop's picker: with a trainer `command`
        of the host's own, the games its config names; else the built-in catalogue."""
        if self.config.trainer.command:
            return sorted(self.config.games)
        return known_names()

    def game_defaults(self) -> dict[str, protocol.GameDefaults]:
        """What each catalogue game starts with here (this host's config, not the
        laptop's), for the picker's labels."""
        out = {}
        for name in self.catalogue():
            s = self.config.game_settings(name)
            out[name] = protocol.GameDefaults(
                num_envs=s["num_envs"],
                num_steps=s["num_steps"],
                minibatch_size=s["minibatch_size"],
                target_episodes=s["target_episodes"],
            )
        return out

    def host(self) -> protocol.Host:
        """The "host" key."""
        now = time.time()
        return protocol.Host(
            hostname=self.hostname,
            boot_id=self.boot_id,
            boot_time=self.current_boot_started,
            agent_version=__version__,
            agent_started=self.started,
            now=now,
            uptime_s=max(0.0, now - self.current_boot_started),
            reboots_24h=boots.reboots_since(self.store.boots(), now - 86400),
            state_dir=str(self.state_dir),
        )

    def _policy_state(self) -> protocol.PolicyState:
        if self.policy is None:
            return protocol.PolicyState()
        return self.policy.state()

    def _greeting(self) -> list[Message]:
        return [protocol.hello(self.hostname, self.boot_id), protocol.Snapshot(state=self.state())]

    def _on_event(self, event: protocol.Event) -> None:
        self.learning.on_event(event)
        self.server.broadcast(protocol.EventMessage(event=event))
        self.alerts.observe(event)

    def _publish_alerts(self) -> None:
        self.publish(protocol.StateUpdate(alerts=self.alerts.status()))

    def _games_by_pid(self) -> dict[int, str]:
        return {pid: g.name for g in self.supervisor.games.values() for pid in g.pids()}

    def flush_games(self) -> None:
        """Push the games that changed since the last flush."""
        if not self.dirty:
            return
        names = sorted(self.dirty)
        self.dirty.clear()
        games = self.supervisor.games
        changed: dict[str, protocol.GameState | None] = {
            n: games[n].to_state() for n in names if n in games
        }
        self.publish(protocol.StateUpdate(games=changed))

    # ---- requests -----------------------------------------------------------------
    async def handle(self, obj: protocol.JSONObject) -> protocol.Reply:
        """One request -> one reply; nothing a client sends can raise out of here."""
        req_id = obj.get("id") if isinstance(obj.get("id"), int | str) else None
        try:
            request = protocol.parse_request(obj)
            return protocol.reply_ok(req_id, await self._run_op(request.op, request.args))
        except protocol.ProtocolError as exc:
            return protocol.reply_error(req_id, exc.code, exc.message)
        except OpError as exc:
            return protocol.reply_error(req_id, exc.code, exc.message)
        except Exception as exc:
            log.exception("op failed: %r", obj.get("op"))
            return protocol.reply_error(req_id, "internal", f"{type(exc).__name__}: {exc}")

    async def _run_op(self, op: str, args: protocol.Args) -> protocol.Result:
        core = CORE_OPS.get(op)
        if core is not None:
            if op not in MUTATING_CORE_OPS:
                return await core(self, args)
            async with AsyncExitStack() as held:  # the lock order above: core, then game
                await held.enter_async_context(self.lock)
                if isinstance(args, protocol.GameArgs):
                    await held.enter_async_context(self.game_lock(args.game))
                return await core(self, args)
        eval_op = EVAL_OPS.get(op)  # read-only, they take no lock
        if eval_op is not None:
            return await eval_op(self.evaluations, args)
        policy_op = POLICY_OPS.get(op)
        if policy_op is None or self.policy is None:
            raise OpError("unknown_op", f"{op} is not served by this agent")
        return await policy_op(self.policy, args)  # it takes its locks itself

    # ---- life ---------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT; trainers keep running when the agent exits."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        self._quarantine()
        fresh = self.supervisor.load(self.rebooted_this_start)
        self.policy = PolicyEngine(self)
        held = self._hold_back()
        self.telemetry_source.sample()
        await self.server.start()
        self.alerts.start()
        self.event(
            "agent_started",
            None,
            _started_text(len(self.supervisor.games), fresh, held),
            {
                "rebooted": self.rebooted_this_start,
                "boot_id": self.boot_id,
                "crash_loop_reset": fresh,
                "held_back": held,
            },
        )
        self.supervisor.tick(time.time())  # resume every wanted game now
        self.flush_games()
        await self.policy.on_start()
        await self.periodic.run_until_stopped(self.policy)
        await self.shutdown()

    def _quarantine(self) -> None:
        """Set aside stored games whose settings fail validation (each with an `error`
        event), so that one bad row neither crash-loops a trainer nor makes the state
        unsendable to every client."""
        for q in quarantine(self.store, self.config):
            log.error("%s", q.message())
            self.event("error", q.game, q.message(), {"problems": q.problems})

    def _hold_back(self) -> list[str]:
        """Ask the policy engine which games must not resume (the ramp, after a reboot,
        runs one step lower) and keep them unwanted, so that none of them starts a
        trainer only to be stopped a moment later. A trainer already running (adopted)
        is left to the engine's on_start."""
        if self.policy is None:
            return []
        held = []
        for name in self.policy.before_resume():
            g = self.supervisor.games.get(name)
            if g is not None and g.wanted and g.proc is None:
                self.mark_wanted(name, False)
                held.append(name)
        return held

    async def shutdown(self) -> None:
        """Last heartbeat, close clients and the store; trainers are left running."""
        self.periodic.heartbeat()
        await self.alerts.close()
        await self.evaluations.close()
        await self.server.close()
        self.telemetry_source.reader.close()
        self.store.close()


def _started_text(known: int, fresh: list[str], held: list[str]) -> str:
    games = "1 game" if known == 1 else f"{known} games"
    text = f"agent {__version__} started (pid {_pid()}), {games} known"
    if fresh:
        text += f"; after the reboot, crash loops get a fresh chance: {', '.join(fresh)}"
    if held:
        text += f"; held back by the policy: {', '.join(held)}"
    return text


def _pid() -> int:
    import os

    return os.getpid()
