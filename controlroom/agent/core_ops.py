"""The core's protocol ops: op name -> async handler(agent, args) -> result dict,
typed against the seam (core.AgentCore), never the daemon. `args` is the op's own
protocol.Args Struct, already validated (types, bounds of settings) by the decoder.

Handlers raise OpError for a clean error reply. Mutating ops are idempotent: adding a
game that is already wanted with the same settings changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from controlroom import protocol
from controlroom.agent.core import AgentCore as Agent
from controlroom.agent.errors import OpError
from controlroom.agent.supervision.launch import check_game, validate
from controlroom.agent.supervision.runfiles import LOG_FILE, METRICS_FILE, tail_lines
from controlroom.config import Settings

# Each handler takes its op's own Args subclass (protocol.OPS pairs them); a Callable
# over the base class would refuse them all (parameters are contravariant).
CoreOp = Callable[[Agent, Any], Awaitable[protocol.Result]]
MAX_EVENTS = 10_000
MAX_LOG_LINES = 5_000
MAX_METRICS_LINES = 200  # ~300 bytes each: keeps the reply far below the line limit
# Run under the core op lock and their game's lock (daemon.py gives the lock order).
MUTATING_CORE_OPS = {
    "add_game",
    "remove_game",
    "start_game",
    "stop_game",
    "scale_game",
    "stop_all",
    "shutdown",
}


async def ping(agent: Agent, args: protocol.NoArgs) -> protocol.Pong:
    """Liveness, and the agent's clock for round-trip figures."""
    return protocol.Pong(pong=True, now=agent.now())


async def status(agent: Agent, args: protocol.NoArgs) -> protocol.State:
    """The whole state, as in a snapshot."""
    return agent.state()


async def add_game(agent: Agent, args: protocol.AddGame) -> protocol.GameChange:
    """Want a game (config settings plus the client's overrides) and start it."""
    game = args.game
    existing = agent.supervisor.games.get(game)
    base = existing.settings if existing else None
    settings = _settings(agent, game, args.settings, base)
    _guard(agent, game, settings)
    if existing and existing.wanted and existing.settings == settings:
        if existing.state == "crash_loop":
            agent.supervisor.reset(existing)
        return protocol.GameChange(game=existing.to_state(), changed=False)
    state = await agent.want_valid_game(game, settings, reset=bool(existing))
    if existing is None:
        agent.event("game_added", game, f"{game} added", {"settings": _shown(settings)})
    return protocol.GameChange(game=state, changed=True)


async def remove_game(agent: Agent, args: protocol.GameArgs) -> protocol.Removed:
    """Stop a game and forget it."""
    game = _known(agent, args.game)
    await agent.forget_game(game)
    return protocol.Removed(removed=game)


async def start_game(agent: Agent, args: protocol.GameArgs) -> protocol.GameChange:
    """Want a known game again (clears a crash loop or a finished state)."""
    g = agent.supervisor.games[_known(agent, args.game)]
    _guard(agent, g.name, g.settings)
    if g.paused:
        agent.mark_paused(g.name, False)
    return protocol.GameChange(game=await agent.want_valid_game(g.name, g.settings, reset=True))


async def stop_game(agent: Agent, args: protocol.GameArgs) -> protocol.GameChange:
    """Stop a game's trainer (checkpoint on the way out) but remember the game."""
    game = _known(agent, args.game)
    await agent.stop_trainer(game)
    return protocol.GameChange(game=agent.supervisor.games[game].to_state())


async def scale_game(agent: Agent, args: protocol.ScaleGame) -> protocol.GameChange:
    """Change a game's env count; the trainer restarts from its checkpoint."""
    g = agent.supervisor.games[_known(agent, args.game)]
    settings = _settings(agent, g.name, {"num_envs": args.num_envs}, g.settings)
    if settings == g.settings:
        return protocol.GameChange(game=g.to_state(), changed=False)
    _guard(agent, g.name, settings)
    before = g.settings["num_envs"]
    state = await agent.want_valid_game(g.name, settings, wanted=g.wanted)
    agent.event(
        "game_scaled",
        g.name,
        f"{g.name}: num_envs {before} -> {args.num_envs}",
        {"from": before, "to": args.num_envs},
    )
    return protocol.GameChange(game=state, changed=True)


async def stop_all(agent: Agent, args: protocol.NoArgs) -> protocol.Stopped:
    """Stop every trainer; the games stay known but unwanted."""
    names = [g.name for g in agent.supervisor.games.values() if g.wanted or g.proc]
    for name in names:
        agent.mark_wanted(name, False)
    await asyncio.gather(*(agent.stop_trainer(n) for n in names))
    return protocol.Stopped(stopped=names)


async def shutdown(agent: Agent, args: protocol.Shutdown) -> protocol.Stopped:
    """Exit the agent after this reply; its trainers keep running unless told to stop.

    Autostart (systemd, cron's periodic `ensure`) may start it again: that is the point of
    autostart. `controlroom agent uninstall` first for an agent that stays down."""
    stopped = (await stop_all(agent, protocol.NoArgs())).stopped if args.stop_trainers else []
    # Let the reply reach the client before the server closes.
    asyncio.get_running_loop().call_later(0.2, agent.stopping.set)
    return protocol.Stopped(stopped=stopped, stopping=True)


async def reboots(agent: Agent, args: protocol.NoArgs) -> protocol.Boots:
    """Every boot seen, oldest first."""
    return protocol.Boots(boots=agent.store.boots())


async def events(agent: Agent, args: protocol.Events) -> protocol.EventPage:
    """The newest events, oldest first, paged to fit a line (protocol: `events`)."""
    limit = args.limit
    if not 0 <= limit <= MAX_EVENTS:
        raise OpError("invalid", f"limit must be in 0..{MAX_EVENTS}")
    before = args.before
    if before is not None and before < 0:
        raise OpError("invalid", "before must be a cursor from next_before (>= 0)")
    page: list[tuple[int, protocol.Event]] = []
    size, more = 0, False
    for event_id, event in agent.store.events_newest(limit, args.since, before):
        size += len(protocol.encode(event))
        if page and size > protocol.REPLY_BUDGET:
            more = True
            break
        page.append((event_id, event))
    events = [e for _, e in reversed(page)]
    if more:
        return protocol.EventPage(events=events, more=True, next_before=page[-1][0])
    return protocol.EventPage(events=events)


async def game_log(agent: Agent, args: protocol.GameLog) -> protocol.GameLogTail:
    """The tail of a game's trainer.log, and of its metrics (fewer: each line is long)."""
    game = _known(agent, args.game)
    lines = args.lines
    if not 0 <= lines <= MAX_LOG_LINES:
        raise OpError("invalid", f"lines must be in 0..{MAX_LOG_LINES}")
    path = agent.run_dir(game) / LOG_FILE
    metrics = tail_lines(agent.run_dir(game) / METRICS_FILE, min(lines, MAX_METRICS_LINES))
    return protocol.GameLogTail(
        game=game, path=str(path), lines=tail_lines(path, lines), metrics=metrics
    )


async def history(agent: Agent, args: protocol.LearningHistory) -> protocol.LearningCurve:
    """A game's learning curve, whole (bounded) or after a cursor (protocol: `history`)."""
    g = agent.supervisor.games[_known(agent, args.game)]
    return agent.learning.reply(g, args.run, args.after)


def _known(agent: Agent, game: str) -> str:
    if game not in agent.supervisor.games:
        check_game(game)  # an unknown name says so; a known but absent one is not_found
        raise OpError("not_found", f"{game} is not on this host; add it first")
    return game


def _settings(agent: Agent, game: str, overrides: Settings, base: Settings | None) -> Settings:
    """The whole settings the op asks for: the client's overrides over the game's own
    (an existing game keeps its settings; only what the client named changes) or the
    config's. Checked whole (launch.validate: every value's bounds, then the shape)
    before the guard or anything else sees it, so a refusal changes nothing."""
    check_game(game)
    settings = {**(agent.config.game_settings(game) if base is None else base), **overrides}
    validate(settings)
    return settings


def _guard(agent: Agent, game: str, settings: Settings) -> None:
    verdict = agent.check_scale(game, settings)
    if verdict is not None:
        agent.event("guard_refused", game, verdict, {"settings": _shown(settings)})
        raise OpError("refused", verdict)


def _shown(settings: Settings) -> Settings:
    return {k: v for k, v in settings.items() if k != "command"}


CORE_OPS: dict[str, CoreOp] = {
    "ping": ping,
    "status": status,
    "add_game": add_game,
    "remove_game": remove_game,
    "start_game": start_game,
    "stop_game": stop_game,
    "scale_game": scale_game,
    "stop_all": stop_all,
    "shutdown": shutdown,
    "reboots": reboots,
    "events": events,
    "game_log": game_log,
    "history": history,
}
