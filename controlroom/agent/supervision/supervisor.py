"""Reconcile running trainers with the wanted games: start, stop, restart, adopt.

`step()` is the whole state machine for one game and is cheap (a waitpid or a psutil
check, two stats); the agent calls `tick()` twice a second. Restarts back off
exponentially (capped, reset after a stable period); N crashes within M seconds is a
crash loop and stops the restarts; a trainer whose metrics go silent is hung.

Only exits that made no progress (no newer checkpoint, no step beyond the best seen)
count towards a crash loop: a trainer killed now and then from outside (an OOM kill
for a neighbour) that checkpoints in between keeps coming back. Exit code 2 (bad
settings or usage, argparse's code) is not retried: the game waits in crash_loop for
a fix, with the trainer's last log line as the reason (exits.py reads why a trainer
ended). Transitions happen in memory
first; the store gets them through PendingWrites, which keeps them while SQLite
refuses writes, so a failed write never strands a game.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controlroom import extras
from controlroom.agent.storage.pending import PendingWrites
from controlroom.agent.storage.rows import StoredGame
from controlroom.agent.storage.store import Store
from controlroom.agent.supervision import exits, process
from controlroom.agent.supervision.gamerun import GameRun, describe_exit
from controlroom.agent.supervision.job import job_joined
from controlroom.agent.supervision.launch import trainer_argv, trainer_env, validate
from controlroom.agent.supervision.placement import Placement
from controlroom.agent.supervision.runfiles import LOG_FILE, checkpoint_mtime, read_checkpoint
from controlroom.agent.supervision.spannet import Probes, Reach
from controlroom.agent.supervision.threads import (
    adopted_threads,
    host_cores,
    processes,
    thread_env,
    threads_for,
)
from controlroom.config import AgentConfig, Settings
from controlroom.protocol import JSONObject, Threads

log = logging.getLogger(__name__)

CUSTOM_STARTUP_S = 5.0  # a BYO trainer with no metrics counts as running after this
WAITING = ("crashed", "backoff", "hung", "starting", "stopped")
HOLD_RECHECK_S = 5.0  # how often a game waiting for GPUs looks at the host again


class Supervisor:
    """Owns every GameRun and its process; persists what it observes. The only writer
    of a GameRun's state: the daemon and the policy engine change games through the
    methods below (want, forget, stop, mark_wanted, mark_paused, reset)."""

    def __init__(
        self,
        store: Store,
        runs: Path,
        knobs: Callable[[], AgentConfig],
        on_change: Callable[[str], None],
        place: Callable[[GameRun], Placement] | None = None,
    ) -> None:
        self.store, self.runs, self.knobs, self.on_change = store, runs, knobs, on_change
        # Where a starting trainer runs (the agent's placement, from telemetry), or why it
        # must wait (a refusal); without one, where it ran before.
        self.place: Callable[[GameRun], Placement] = place or (lambda g: Placement(tuple(g.gpus)))
        self.games: dict[str, GameRun] = {}
        self.pending = PendingWrites(store)
        self.probes = Probes()  # node 0's reachability, before each start of a part
        self.cores: Callable[[], int] = host_cores  # what the trainers' threads divide

    # ---- loading and adopting -----------------------------------------------------
    def load(self, rebooted: bool = False) -> list[str]:
        """Rebuild games from the store, adopting trainers that outlived the agent.

        After a reboot a wanted game in a crash loop gets a fresh chance (its crash
        history cleared): a reboot is a new situation, and the log's crashes came from
        the load that also took the host down. Returns those games."""
        fresh = []
        for row in self.store.games():
            g = GameRun(
                row.name,
                row.settings,
                self.runs / row.name,
                wanted=row.wanted,
                added_at=row.added_at,
                paused=row.paused,
                restarts=row.restarts,
                last_exit=row.last_exit,
                gpus=list(row.gpus),
            )
            g.tail.start_at_end()
            g.checkpoint = read_checkpoint(g.run_dir)
            self.games[g.name] = g
            self._adopt(g, row)
            if rebooted and g.wanted and g.state == "crash_loop":
                self.reset(g)
                fresh.append(g.name)
        return fresh

    def _adopt(self, g: GameRun, row: StoredGame) -> None:
        recorded = (row.pid, row.pid_create_time, row.cmdline)
        proc = process.adopt(*recorded) or process.adopt_group(*recorded, g.run_dir)
        if proc is None and g.wanted:
            proc = process.find_running(self._argv(g), g.run_dir)
        if proc is not None:
            self._attach(g, proc, "running")
            g.threads = adopted_threads(process.environ(proc.pid), g.settings, self.cores())
            self._event("adopted", g, f"adopted {g.name} trainer pid {proc.pid}", {"pid": proc.pid})
            return
        # A finished or crash-looping game stays so until someone starts it again.
        kept = row.state if row.state in ("done", "crash_loop") else None
        self._set(g, kept or ("paused" if g.paused else "stopped"), pid=None)

    def _attach(self, g: GameRun, proc: process.TrainerProc, state: str) -> None:
        g.proc, g.started_at = proc, proc.create_time or time.time()
        g.last_activity, g.lines_this_run = time.time(), 0
        g.stopping_for = g.stop_deadline = g.next_restart_at = None
        g.mark_progress()
        self._set(
            g,
            state,
            pid=proc.pid,
            pid_create_time=proc.create_time,
            cmdline=proc.cmdline,
            started_at=g.started_at,
        )

    # ---- the state machine --------------------------------------------------------
    def tick(self, now: float) -> None:
        """Write what the store still owes, then one pass over every game."""
        try:
            self.store.flush_owed()  # writes that met another process's lock
            self.pending.flush()
        except Exception:  # supervision goes on from memory whatever the store does
            log.exception("writing pending state")
        for g in list(self.games.values()):
            try:
                self.step(g, now)
            except Exception:  # one game's trouble must not stop the others' supervision
                log.exception("supervising %s", g.name)

    def step(self, g: GameRun, now: float) -> None:
        """Advance one game: notice exits, hangs, new metrics; start what is due."""
        self.observe(g, now)
        if g.proc is None and self._due(g, now):
            self._start(g, now)

    def observe(self, g: GameRun, now: float) -> None:
        """Notice an exit, a hang, new metrics; start nothing."""
        if g.proc is not None:
            if g.proc.alive():
                self._watch(g, now)
            else:
                self._exited(g, now)

    def _due(self, g: GameRun, now: float) -> bool:
        if not g.wanted or g.paused or g.state not in WAITING:
            return False
        return g.next_restart_at is None or now >= g.next_restart_at

    def _watch(self, g: GameRun, now: float) -> None:
        knobs = self.knobs()
        read = g.tail.poll()
        if read:
            g.last_activity, g.lines_this_run = now, g.lines_this_run + read
            self.on_change(g.name)
        if g.state == "starting" and (read or self._custom_started(g, now) or self._joined(g)):
            self._set(g, "running")
        self._check_checkpoint(g)
        if g.stopping_for is not None:
            if g.stop_deadline is not None and now >= g.stop_deadline:
                log.warning("%s: no exit %.0fs after SIGTERM; SIGKILL", g.name, knobs.stop_grace_s)
                process.kill(g.proc)  # type: ignore[arg-type]
                g.stop_deadline = None
            return
        # A part of a job over several hosts on a node other than 0 gets no metrics: its
        # job's hang is seen on node 0, whose rank 0 holds its heartbeats while it waits.
        silent = (g.builtin and g.writes_metrics) or g.lines_this_run
        if silent and now - g.last_activity > knobs.hang_timeout_s:
            self._hung(g, now)
        elif g.started_at and now - g.started_at >= knobs.stable_reset_s:
            g.consecutive = 0

    def _custom_started(self, g: GameRun, now: float) -> bool:
        return not g.builtin and now - (g.started_at or now) >= CUSTOM_STARTUP_S

    def _joined(self, g: GameRun) -> bool:
        """Whether a part of a job over several hosts (node other than 0) joined it in
        this run: its sign of running and of progress, having no metrics of its own."""
        return g.builtin and not g.writes_metrics and job_joined(exits.log_tail(g))

    def _progressed(self, g: GameRun) -> bool:
        """Whether the exiting trainer made progress (gamerun.progressed); for a part
        without metrics, whether its job formed (a job that never forms is the crash
        loop the rules are for)."""
        return g.progressed() or self._joined(g)

    def _check_checkpoint(self, g: GameRun) -> None:
        mtime = checkpoint_mtime(g.run_dir)
        if mtime == g.checkpoint_mtime:
            return
        g.checkpoint_mtime, g.checkpoint = mtime, read_checkpoint(g.run_dir)
        self.on_change(g.name)

    def _hung(self, g: GameRun, now: float) -> None:
        silent = now - g.last_activity
        self._event(
            "hung",
            g,
            f"{g.name}: no metrics for {silent:.0f}s; killing it",
            {"silent_s": silent, "pid": g.pid},
        )
        g.tail.poll()
        self._check_checkpoint(g)
        self._record_crash(g, now, self._progressed(g))
        self._set(g, "hung")
        self.request_stop(g, "hung", now)

    def _exited(self, g: GameRun, now: float) -> None:
        assert g.proc is not None
        code, reason_by = g.proc.exit_code, g.stopping_for
        g.tail.poll()
        self._check_checkpoint(g)
        progressed = self._progressed(g)
        g.proc, g.last_exit, g.stop_deadline, g.stopping_for = None, describe_exit(code), None, None
        self.pending.update_game(g.name, pid=None, last_exit=g.last_exit)
        if reason_by == "stop":
            self._stopped(g)
        elif reason_by == "hung":
            self._schedule_restart(g, now, f"{g.name} was hung ({g.last_exit})")
        elif (refusal := exits.refusal(g, code)) is not None and not progressed:
            self._refused_settings(g, refusal)
        elif exits.finished(code, g):
            self._set(g, "done")
            self._event(
                "target_reached",
                g,
                f"{g.name} reached its target and exited",
                {"metrics": g.tail.metrics},
            )
        else:
            self._crashed(g, now, progressed)

    def _refused_settings(self, g: GameRun, line: str) -> None:
        g.last_exit = f"exit code 2 (bad settings or usage){': ' + line if line else ''}"
        self._set(g, "crash_loop", last_exit=g.last_exit)
        self._event(
            "crash_loop",
            g,
            f"{g.name} trainer refused its settings ({g.last_exit}); "
            "not restarting: fix the settings or the command, then start it again",
            {"exit": g.last_exit, "crashes": 1},
        )

    def _stopped(self, g: GameRun) -> None:
        self._set(g, "paused" if g.paused else "stopped")
        self._event("trainer_stopped", g, f"{g.name} trainer stopped ({g.last_exit})")

    def _crashed(self, g: GameRun, now: float, progressed: bool) -> None:
        outside = exits.exit_reason(g) == "signal"
        why = "stopped by a signal from outside the agent" if outside else g.last_exit
        self._set(g, "crashed")
        self._record_crash(g, now, progressed)
        after = " after making progress" if progressed else ""
        self._schedule_restart(g, now, f"{g.name} trainer crashed{after}: {why}")

    def _record_crash(self, g: GameRun, now: float, progressed: bool) -> None:
        window = self.knobs().crash_loop_window_s
        while g.crash_times and now - g.crash_times[0] > window:
            g.crash_times.popleft()
        if progressed:  # it was working: a fresh backoff, and no step towards a loop
            g.consecutive = 1
            return
        g.crash_times.append(now)
        g.consecutive += 1

    def _schedule_restart(self, g: GameRun, now: float, message: str) -> None:
        knobs = self.knobs()
        if len(g.crash_times) >= knobs.crash_loop_count:
            self._set(g, "crash_loop")
            text = (
                f"{message}; {len(g.crash_times)} crashes within "
                f"{knobs.crash_loop_window_s:.0f}s: crash loop, not restarting"
            )
            self._event("crash_loop", g, text, {"crashes": len(g.crash_times)})
            return
        delay = min(knobs.backoff_max_s, knobs.backoff_initial_s * 2 ** (g.consecutive - 1))
        g.next_restart_at = now + delay
        self._set(g, "backoff")
        self._event(
            "crash",
            g,
            f"{message}; restart in {delay:.1f}s",
            {"exit": g.last_exit, "delay_s": delay, "crashes": len(g.crash_times)},
        )

    def _start(self, g: GameRun, now: float) -> None:
        reach = self._reach(g)
        if reach is None:  # its probe of node 0 is on its way: a later pass starts it
            return
        if reach.waiting is not None:
            self._hold(g, now, reach.problem or "", waits_for=reach.waiting)
            return
        argv = self._argv(g, reach.local_addr)
        twin = process.find_running(argv, g.run_dir)
        if twin is not None:
            self._attach(g, twin, "running")
            self._event("adopted", g, f"{g.name}: found its trainer running (pid {twin.pid})")
            return
        if g.builtin and (missing := extras.builtin_trainer_problem()) is not None:
            self._cannot_start(g, missing)
            return
        placed = self.place(g)
        if placed.refusal is not None:
            self._hold(g, now, placed.refusal)
            return
        back = g.held_for is not None  # it waited: a start, unless a crash came first
        waited = f"; {g.held_by} it waited for {'are back' if g.gpus_held else 'answers'}"
        restart = (g.next_restart_at is not None and not back) or g.restart_owed
        if back:
            g.held_for, g.next_restart_at, g.last_exit = None, None, None
            g.restart_owed = False
            self.pending.update_game(g.name, last_exit=None)
        g.tail.start_at_end()
        g.log_offset = _size(g.run_dir / LOG_FILE)
        g.gpus = list(placed.gpus)
        self.pending.update_game(g.name, gpus=g.gpus)
        g.threads = self._threads(g)
        env = trainer_env(g.gpus, g.span, reach.local_addr) | thread_env(g.threads)
        self._attach(g, process.spawn(argv, g.run_dir, env), "starting")
        if restart:
            g.restarts += 1
            self.pending.update_game(g.name, restarts=g.restarts)
            self._event(
                "restart",
                g,
                f"{g.name} restarted (restart #{g.restarts})",
                {"pid": g.pid, "restarts": g.restarts},
            )
        else:
            self._event(
                "trainer_started",
                g,
                f"{g.name} trainer started (pid {g.pid}{_on(g.gpus)})" + (waited if back else ""),
                {"pid": g.pid, "argv": argv, "gpus": g.gpus},
            )

    def _threads(self, g: GameRun) -> Threads:
        """The starting trainer's threads: the host's cores divided among the trainer
        processes of every game running or due to run (with this one), so the games a
        reboot resumes together get equal shares (threads.py says why running ones are
        not restarted for a new share)."""
        trainers = sum(processes(o.settings) for o in self.games.values() if o is g or o.busy)
        return threads_for(g.settings, self.cores(), trainers)

    def _cannot_start(self, g: GameRun, problem: str) -> None:
        """A game of the built-in trainer on a host without torch or envpool (one that
        runs its own trainer `command`s needs neither): it waits in crash_loop, the
        missing modules and the install hint as its reason, until started again."""
        g.next_restart_at, g.last_exit = None, problem
        self._set(g, "crash_loop", last_exit=problem)
        self._event(
            "crash_loop",
            g,
            f"{g.name} not started: {problem}; then start it again",
            {"exit": problem, "crashes": 0},
        )

    def _reach(self, g: GameRun) -> Reach | None:
        """What the network says of a part of a job over several hosts (spannet.probe,
        off the loop; None while it runs); nothing to ask for any other game."""
        span = g.span
        return self.probes.take(g.name, span) if g.builtin and span.spans else Reach()

    def _argv(self, g: GameRun, local_addr: str | None = None) -> list[str]:
        grace = self.knobs().stop_grace_s
        return trainer_argv(
            g.name, g.settings, g.run_dir, stop_grace_s=grace, local_addr=local_addr
        )

    def _hold(self, g: GameRun, now: float, reason: str, waits_for: str = "GPUs") -> None:
        """Keep a game that cannot start yet waiting (backoff, its reason as last_exit,
        looked at again every HOLD_RECHECK_S), said once per reason: the GPUs it needs
        are not all here, or (`waits_for` "node 0 at ADDR:PORT") its job's node 0 does
        not answer. Its stored settings and GPUs stay as they are, and it starts when
        what it waits for is there."""
        if g.held_for is None and g.next_restart_at is not None:
            g.restart_owed = True  # a crash's restart, now waiting: still counted as one
        g.next_restart_at = now + HOLD_RECHECK_S
        if g.held_for == reason and g.state == "backoff":
            return
        gpus = waits_for == "GPUs"
        g.held_for, g.held_by = reason, "the GPUs" if gpus else waits_for
        g.last_exit = f"waiting for {waits_for}: {reason}"
        self._set(g, "backoff", last_exit=g.last_exit)
        then = "they are back" if gpus else "it answers"
        self._event(
            "error",
            g,
            f"{g.name} not started: {g.last_exit if not gpus else reason}; it waits and "
            f"starts when {then}",
            {"waiting_for_gpus": reason} if gpus else {"waiting_for": waits_for, "why": reason},
        )

    # ---- requests -----------------------------------------------------------------
    def request_stop(self, g: GameRun, why: str, now: float) -> None:
        """SIGTERM now, SIGKILL after the grace period (done by `step`)."""
        g.next_restart_at, g.restart_owed = None, False
        if g.proc is None:
            return
        g.stopping_for, g.stop_deadline = why, now + self.knobs().stop_grace_s
        if why != "hung":
            self._set(g, "stopping")
        process.terminate(g.proc)

    async def stop(self, g: GameRun) -> None:
        """Stop a game's trainer and wait until it is gone."""
        if g.proc is None:
            if g.state not in ("done",):
                self._set(g, "paused" if g.paused else "stopped")
            return
        proc = g.proc
        self.request_stop(g, "stop", time.time())
        # Wait for this process, not for g.proc to be None: a wanted game (a settings
        # change) may be restarted by the supervise pass as soon as it sees the exit.
        while g.proc is proc:
            await asyncio.sleep(0.05)
            self.observe(g, time.time())

    async def want(
        self, game: str, settings: Settings, *, wanted: bool = True, reset: bool = False
    ) -> GameRun:
        """Persist the wanted state (written before acting on it), then converge: new
        settings for a running game stop it first, so the restart uses them. Every
        path that gives a game settings ends here, so the one check (launch.validate)
        runs here too, before the row is written or the trainer stopped: a path that
        forgot it is refused with the same message and changes nothing."""
        validate(settings)
        self.store.put_game(game, wanted, settings)
        g = self.games.get(game)
        if g is None:
            g = GameRun(game, settings, self.runs / game, wanted=wanted)
            self.games[game] = g
        elif settings != g.settings:
            # New settings first, so whichever pass restarts the trainer uses them.
            g.settings, reset = settings, True
            await self.stop(g)
        g.wanted = wanted
        if reset or g.state == "paused":
            self.reset(g)
        self.step(g, time.time())
        return g

    async def forget(self, game: str) -> bool:
        """Stop a game and drop it from memory and the store; False if it was unknown."""
        g = self.games.get(game)
        if g is None:
            return False
        self.mark_wanted(game, False)
        await self.stop(g)
        self.games.pop(game, None)
        self.probes.forget(game)
        self.store.delete_game(game)
        return True

    def mark_wanted(self, game: str, wanted: bool) -> None:
        """Persist wanted/unwanted without touching the process."""
        g = self.games[game]
        g.wanted = wanted
        self.store.put_game(game, wanted, g.settings)

    def mark_paused(self, game: str, paused: bool) -> None:
        """The guard's pause flag; a paused game shows "paused" and is not restarted."""
        g = self.games[game]
        g.paused = paused
        self.store.update_game(game, paused=int(paused))
        if g.proc is None and g.state in ("stopped", "paused"):
            self._set(g, "paused" if paused else "stopped")
        self.on_change(game)

    def reset(self, g: GameRun) -> None:
        """Forget crash history so a crash-looped or done game may start again."""
        g.crash_times.clear()
        g.consecutive, g.next_restart_at = 0, None
        if g.proc is None:
            self._set(g, "stopped")

    # ---- plumbing -----------------------------------------------------------------
    def _set(self, g: GameRun, state: str, **columns: Any) -> None:
        g.state = state
        self.pending.update_game(g.name, state=state, **columns)
        self.on_change(g.name)

    def _event(self, kind: str, g: GameRun, message: str, data: JSONObject | None = None) -> None:
        log.info("%s", message)
        self.pending.add_event(kind, g.name, message, data)


def _on(gpus: list[int]) -> str:
    return f", GPU {','.join(map(str, gpus))}" if gpus else ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
