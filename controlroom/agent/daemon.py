"""The agent: wires store, boots, supervisor, telemetry, server and policy together.

Its public methods are the seam the policy engine codes against (docs/agent-internals.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from pathlib import Path
from typing import Any

from controlroom import __version__, protocol
from controlroom.agent import boots, loops, paths
from controlroom.agent.errors import OpError
from controlroom.agent.gamerun import GameRun
from controlroom.agent.launch import check_game, check_template, validate
from controlroom.agent.nvml import GpuReader, open_reader
from controlroom.agent.ops import CORE_OPS, MUTATING
from controlroom.agent.quarantine import quarantine
from controlroom.agent.server import Server
from controlroom.agent.store import Store
from controlroom.agent.supervisor import Supervisor
from controlroom.agent.telemetry import Telemetry
from controlroom.config import Config, save
from controlroom.games import known_names

log = logging.getLogger(__name__)

SNAPSHOT_EVENTS = 100


class Agent:
    """One running agent for one state dir."""

    def __init__(self, config: Config, config_path: Path, state_dir: Path,
                 gpu_reader: GpuReader | None = None) -> None:
        self.config, self.config_path, self.state_dir = config, config_path, state_dir
        self.server = Server(paths.socket_path(state_dir), self.handle, self._greeting)
        self.store = Store(paths.db_path(state_dir), config.agent.max_events)
        self.store.on_event = self._push_event
        self.hostname = socket.gethostname()
        self.started = time.time()
        info = boots.record_boot(self.store, self.started)
        self.boot_id, self.current_boot_started = info.boot_id, info.boot_time
        self.rebooted_this_start = info.rebooted
        self.telemetry_source = Telemetry(gpu_reader or open_reader(), state_dir)
        self.dirty: set[str] = set()
        self.supervisor = Supervisor(self.store, paths.runs_dir(state_dir),
                                     lambda: self.config.agent, self.dirty.add)
        self.lock = asyncio.Lock()
        self.policy: Any = None
        self.stopping = asyncio.Event()

    # ---- the seam for the policy engine -------------------------------------------
    def run_dir(self, game: str) -> Path:
        """Where a game's trainer writes."""
        return paths.runs_dir(self.state_dir) / game

    def games(self) -> dict[str, dict[str, Any]]:
        """Every game's protocol GameState."""
        return {name: g.to_state() for name, g in self.supervisor.games.items()}

    def telemetry(self) -> dict[str, Any]:
        """The latest {"gpus": [...], "system": {...}}."""
        t = self.telemetry_source
        return {"gpus": t.gpu_dicts(self._games_by_pid()), "system": t.system}

    async def want_game(self, game: str, settings: dict[str, Any], *, wanted: bool = True,
                        reset: bool = False) -> dict[str, Any]:
        """Persist the wanted state, then converge (a settings change restarts the trainer)."""
        check_game(game)
        g = self.supervisor.games.get(game)
        base = g.settings if g else self.config.game_settings(game)
        merged = {**base, **{k: v for k, v in settings.items() if k in base}}
        validate(merged)
        if merged.get("command"):
            check_template(merged["command"])
        self.store.put_game(game, wanted, merged)  # written before acting on it
        if g is None:
            g = GameRun(game, merged, self.run_dir(game), wanted=wanted)
            self.supervisor.games[game] = g
        elif merged != g.settings:
            # New settings first, so whichever pass restarts the trainer uses them.
            g.settings, reset = merged, True
            await self.supervisor.stop(g)
        g.wanted = wanted
        if reset or g.state == "paused":
            self.supervisor.reset(g)
        self.supervisor.step(g, time.time())
        self.flush_games()
        return g.to_state()

    async def forget_game(self, game: str) -> None:
        """Stop a game and drop it from the wanted set and the store."""
        g = self.supervisor.games.get(game)
        if g is None:
            return
        self.mark_wanted(game, False)
        await self.supervisor.stop(g)
        self.supervisor.games.pop(game, None)
        self.store.delete_game(game)
        self.dirty.discard(game)
        self.publish({"games": {game: None}})
        self.event("game_removed", game, f"{game} removed")

    async def stop_trainer(self, game: str) -> None:
        """Stop the trainer and keep the game, unwanted (the guard's pause uses this)."""
        g = self.supervisor.games[game]
        self.mark_wanted(game, False)
        await self.supervisor.stop(g)
        self.flush_games()

    def mark_wanted(self, game: str, wanted: bool) -> None:
        """Persist wanted/unwanted without touching the process."""
        g = self.supervisor.games[game]
        g.wanted = wanted
        self.store.put_game(game, wanted, g.settings)

    def mark_paused(self, game: str, paused: bool) -> None:
        """The guard's pause flag; a paused game shows "paused" and is not restarted."""
        g = self.supervisor.games[game]
        g.paused = paused
        self.store.update_game(game, paused=int(paused))
        if g.proc is None and g.state in ("stopped", "paused"):
            g.state = "paused" if paused else "stopped"
            self.store.update_game(game, state=g.state)
        self.dirty.add(game)
        self.flush_games()

    def publish(self, partial_state: dict[str, Any]) -> None:
        """Push an update to every client."""
        self.server.broadcast({"type": "update", "state": partial_state})

    def save_config(self, cfg: Config) -> None:
        """Write the agent's config file (atomically) and use it from now on; a config
        that would not load is refused (ConfigError) and nothing changes."""
        save(cfg, self.config_path)
        self.config = cfg
        self.store.max_events = cfg.agent.max_events

    def check_scale(self, game: str, settings: dict[str, Any]) -> str | None:
        """The load guard's verdict (None = allowed; no policy engine = allowed)."""
        if self.policy is None:
            return None
        verdict: str | None = self.policy.check_scale(game, settings)
        return verdict

    def event(self, kind: str, game: str | None, message: str,
              data: dict[str, Any] | None = None) -> None:
        """Record and push an event."""
        self.store.add_event(kind, game, message, data)

    def now(self) -> float:
        """Wall-clock time."""
        return time.time()

    # ---- state for clients --------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The whole State of the protocol."""
        t = self.telemetry_source
        return {"host": self.host(), **self.telemetry(), "gpu_error": t.reader.error,
                "games": self.games(), "boots": self.store.boots(),
                "events": self.store.events(SNAPSHOT_EVENTS), "policy": self._policy_state(),
                "history": t.history_dict(), "catalogue": self.catalogue()}  # fmt: skip

    def catalogue(self) -> list[str]:
        """The games this host can run, for the laptop's picker: with a trainer `command`
        of the host's own, the games its config names; else the built-in catalogue."""
        if self.config.trainer.command:
            return sorted(self.config.games)
        return known_names()

    def host(self) -> dict[str, Any]:
        """The "host" key."""
        now = time.time()
        return {"hostname": self.hostname, "boot_id": self.boot_id,
                "boot_time": self.current_boot_started, "agent_version": __version__,
                "agent_started": self.started, "now": now,
                "uptime_s": max(0.0, now - self.current_boot_started),
                "reboots_24h": boots.reboots_since(self.store.boots(), now - 86400),
                "state_dir": str(self.state_dir)}  # fmt: skip

    def _policy_state(self) -> dict[str, Any]:
        if self.policy is None:
            return {}
        state: dict[str, Any] = self.policy.state()
        return state

    def _greeting(self) -> list[dict[str, Any]]:
        return [protocol.hello(self.hostname, self.boot_id),
                {"type": "snapshot", "state": self.state()}]

    def _push_event(self, event: dict[str, Any]) -> None:
        self.server.broadcast({"type": "event", "event": event})

    def _games_by_pid(self) -> dict[int, str]:
        return {g.pid: g.name for g in self.supervisor.games.values() if g.pid}

    def flush_games(self) -> None:
        """Push the games that changed since the last flush."""
        if not self.dirty:
            return
        names = sorted(self.dirty)
        self.dirty.clear()
        games = self.supervisor.games
        self.publish({"games": {n: games[n].to_state() for n in names if n in games}})

    # ---- requests -----------------------------------------------------------------
    async def handle(self, obj: dict[str, Any]) -> dict[str, Any]:
        """One request -> one reply; nothing a client sends can raise out of here."""
        req_id = obj.get("id") if isinstance(obj.get("id"), int | str) else None
        try:
            req_id, op, args = protocol.parse_request(obj)
            return protocol.reply_ok(req_id, await self._run_op(op, args))
        except protocol.ProtocolError as exc:
            return protocol.reply_error(req_id, exc.code, exc.message)
        except OpError as exc:
            return protocol.reply_error(req_id, exc.code, exc.message)
        except Exception as exc:
            log.exception("op failed: %r", obj.get("op"))
            return protocol.reply_error(req_id, "internal", f"{type(exc).__name__}: {exc}")

    async def _run_op(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = CORE_OPS.get(op) or _policy_ops().get(op)
        if handler is None:
            raise OpError("unknown_op", f"{op} is not served by this agent (no policy engine)")
        if op in MUTATING:
            async with self.lock:
                return await handler(self, args)
        return await handler(self, args)

    # ---- life ---------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT; trainers keep running when the agent exits."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        self._quarantine()
        fresh = self.supervisor.load(self.rebooted_this_start)
        self.policy = _make_policy(self)
        held = self._hold_back()
        self.telemetry_source.sample()
        await self.server.start()
        self.event("agent_started", None, _started_text(len(self.supervisor.games), fresh, held),
                   {"rebooted": self.rebooted_this_start, "boot_id": self.boot_id,
                    "crash_loop_reset": fresh, "held_back": held})  # fmt: skip
        self.supervisor.tick(time.time())  # resume every wanted game now
        self.flush_games()
        if self.policy is not None:
            await self.policy.on_start()
        await loops.run_until_stopped(self)
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
        loops.heartbeat(self)
        await self.server.close()
        self.telemetry_source.reader.close()
        self.store.close()


def _started_text(known: int, fresh: list[str], held: list[str]) -> str:
    text = f"agent {__version__} started (pid {_pid()}), {known} games known"
    if fresh:
        text += f"; after the reboot, crash loops get a fresh chance: {', '.join(fresh)}"
    if held:
        text += f"; held back by the policy: {', '.join(held)}"
    return text


def _pid() -> int:
    import os

    return os.getpid()


def _policy_ops() -> dict[str, Any]:
    try:
        from controlroom.agent.policy.ops import POLICY_OPS
    except ImportError:
        return {}
    return dict(POLICY_OPS)


def _make_policy(agent: Agent) -> Any:
    """The policy engine when it is installed; the core runs without one."""
    try:
        from controlroom.agent.policy.engine import PolicyEngine  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        log.info("no policy engine: profiles, guard and ramp are off")
        return None
    return PolicyEngine(agent)
