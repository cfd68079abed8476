"""What the action keys request: each one a small function from a game's State to an op
(or to the choices a picker offers). Pure: State and Config in, plain values out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlroom import protocol
from controlroom.config import Config, Settings
from controlroom.games import known_names
from controlroom.gpus import Gpus
from controlroom.tui.format import gib

CPU_RANKS = (1, 2, 4)
"""Ranks the GPU key offers on a host without a GPU."""
BUILT_IN_SOURCE = "<built-in defaults>"
"""The `source` of the config the TUI uses when the laptop has no config file."""


def game_names(config: Config, state: protocol.State | None) -> list[str]:
    """The games a host can be asked to run: the agent's own catalogue when it publishes
    one (only it knows its trainer); else the laptop file's [games]; else every game
    this controlroom knows."""
    if state is not None and state.catalogue:
        return list(state.catalogue)
    if config.games and config.source != BUILT_IN_SOURCE:
        return list(config.games)
    return known_names()


def game_choices(config: Config, state: protocol.State | None) -> list[tuple[str, str]]:
    """The host's runnable games not already wanted, as (name, label) for the picker,
    each labelled with the settings the agent will start it with (start_settings)."""
    games = {} if state is None else state.games
    choices = []
    for name in game_names(config, state):
        if name in games and games[name].wanted:
            continue
        s = start_settings(config, state, name)
        label = (
            f"{name:<14} {s.num_envs} envs · mb {s.minibatch_size} · target {s.target_episodes:,}"
        )
        choices.append((name, label))
    return choices


def start_settings(
    config: Config, state: protocol.State | None, name: str
) -> protocol.GameDefaults:
    """What adding `name` starts: a game the agent still knows (stopped, unwanted) with
    its own settings; else the agent's defaults for it (State.game_defaults, from the
    host's config); else, from an agent that sends none, the laptop config's."""
    known = None if state is None else state.games.get(name)
    if known is not None and known.settings:
        return _defaults({**config.game_settings(name), **known.settings, **_target(known)})
    if state is not None and name in state.game_defaults:
        return state.game_defaults[name]
    return _defaults(config.game_settings(name))


def _target(game: protocol.GameState) -> dict[str, Any]:
    return {"target_episodes": game.target_episodes} if game.target_episodes else {}


def _defaults(settings: Settings) -> protocol.GameDefaults:
    return protocol.GameDefaults(
        num_envs=int(settings["num_envs"]),
        num_steps=int(settings["num_steps"]),
        minibatch_size=int(settings["minibatch_size"]),
        target_episodes=int(settings["target_episodes"]),
    )


# What a part of a job over several hosts takes from node 0's game: every rank must
# step and update alike (the same minibatches per rollout), so the shape and the rank
# count travel with the span; a pinned list becomes its count (node 1's GPUs differ).
SPAN_SHARED = ("num_envs", "num_steps", "minibatch_size", "target_episodes", "seed")


def span_requests(
    game: protocol.GameState, node0: str, node1: str, rendezvous: str
) -> list[tuple[str, Settings]]:
    """The add_game settings that make `game` of host `node0` one job with a part on
    `node1`, as (host, settings), node 1's first (its part waits at the rendezvous for
    node 0's, which restarts from its checkpoint into the job)."""
    job_id = _job_id(f"{game.game}-{node0}-{node1}")
    span = {"nodes": 2, "rendezvous": rendezvous, "job_id": job_id}
    shared = {k: game.settings[k] for k in SPAN_SHARED if k in game.settings}
    shared["gpus"] = max(1, game.world_size)
    return [(node1, {**shared, **span, "node_rank": 1}), (node0, {**span, "node_rank": 0})]


def _job_id(text: str) -> str:
    """`text` as a job id (span.job_id_problem): other characters as '-', at most 64."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in text).lstrip("_.-")
    return (cleaned or "job")[:64]


class PartMissing(ValueError):
    """A node of a game's job over several hosts is on no host linked here."""


def job_parts(
    host: str, game: protocol.GameState, fleet: Mapping[str, protocol.State | None]
) -> list[tuple[str, str]]:
    """Where a change to `game` on `host` must go, as (host, game), in the order to send
    it: the game alone for a job on one host; for a job over several, its part on every
    host (the games of `fleet`, each linked host's State or None when its link is down,
    naming the same job id), node 1.. first and node 0 last, as Span hosts sends them
    (a node left out would make the job refuse to start). PartMissing, naming the node,
    when a node's part is on no linked host."""
    span = game.span  # set only for a job over several hosts (protocol.GameState)
    if span is None:
        return [(host, game.game)]
    found: dict[int, tuple[str, str]] = {span.node_rank: (host, game.game)}
    down: list[str] = []
    for name, state in fleet.items():
        if state is None:
            down.append(name)
            continue
        for other in state.games.values():
            if other.span is not None and other.span.job_id == span.job_id:
                found.setdefault(other.span.node_rank, (name, other.game))
    missing = [rank for rank in range(span.nodes) if rank not in found]
    if missing:
        where = f" (link down: {', '.join(down)})" if down else ""
        raise PartMissing(
            f"{game.game} is one job over {span.nodes} hosts (job {span.job_id}): node "
            f"{', '.join(map(str, missing))} is on no linked host{where}; nothing changed. "
            "Link every node's host (controlroom A B) and try again: all must change alike"
        )
    return [found[rank] for rank in (*range(1, span.nodes), 0)]


def gpus_for_part(gpus: Gpus, here: bool) -> Gpus:
    """A GPU change for one part of a job: this tab's host takes it as picked; another
    node its rank count (its GPUs are its own, the count must match)."""
    return gpus if here or isinstance(gpus, int) else len(gpus)


def span_host_choices(hosts: list[str]) -> list[tuple[str, str]]:
    """The linked hosts a job may span to, as (name, label) for the picker."""
    return [(h, f"{h:<14} node 1 of the job (node 0: this tab's host)") for h in hosts]


def profile_choices(config: Config) -> list[tuple[str, str]]:
    """Configured profiles, as (name, label) for the picker."""
    return [
        (name, f"{name:<8} {p.description or ', '.join(p.games)}")
        for name, p in config.profiles.items()
    ]


def scaled_envs(game: protocol.GameState | None, up: bool) -> int:
    """The next env count: doubled or halved. Not held to bounds here: the agent
    checks every setting once, as config.toml does, and its refusal (naming the
    range) is what the key shows, rather than a second copy of the bounds."""
    envs = int((game.settings.get("num_envs") if game else None) or 1)
    return envs * 2 if up else envs // 2


def gpu_choices(
    state: protocol.State | None, game: protocol.GameState | None
) -> list[tuple[str, str]]:
    """What the GPU key offers for a game, as (value in `--gpus` spelling, label): a
    count the agent places (up to the host's GPUs; without a GPU, ranks on the CPU),
    then each GPU to pin it to, with that GPU's load. The current setting is marked."""
    gpus = [] if state is None else state.gpus
    current = game.settings.get("gpus", 1) if game else 1
    out = []
    for n in range(1, len(gpus) + 1) if gpus else CPU_RANKS:
        what = f"{n} GPU{'s' if n > 1 else ''} · placed by free memory" if gpus else ""
        what = what or f"{n} rank{'s' if n > 1 else ''} on the CPU (no GPU on this host)"
        out.append((str(n), f"{_mark(current == n)}{what}"))
    for g in gpus:
        index = g.index
        load = f"{gib(g.memory_used)}/{gib(g.memory_total)} · {g.temperature_c:.0f}°C"
        out.append((f"{index},", f"{_mark(current == [index])}GPU {index} only · {load}"))
    return out


def _mark(current: bool) -> str:
    return "● " if current else "  "


def toggle_op(game: protocol.GameState | None) -> str:
    """stop_game for a wanted game, start_game for one that is not."""
    return "stop_game" if game is not None and game.wanted else "start_game"


def ramp_enabled(state: protocol.State | None) -> bool:
    return state is not None and state.policy.ramp is not None and state.policy.ramp.enabled
