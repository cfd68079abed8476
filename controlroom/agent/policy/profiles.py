"""Profiles: the plan that converges the host to a named load from config.toml.

Stop what the profile does not hold, migrate what runs with other settings, start what
is missing, and keep the rest. A game that is a part of a job over several hosts is
left alone ("skip", saying so): every node of its job must change alike, from the laptop.
The same plan is what `--dry-run` (and the TUI, before
confirming) shows, so what is shown is exactly what is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlroom.agent.policy.figures import SHAPE_KEYS, shape_data, shape_from
from controlroom.agent.supervision import job_parts
from controlroom.config import Config, Settings
from controlroom.gpus import DEFAULT_GPUS
from controlroom.protocol import GameState, ProfileAction
from controlroom.span import Span

# What applying a profile converges a running game to: its shape and its GPUs.
PROFILE_KEYS = (*SHAPE_KEYS, "gpus")

# A wanted game in any of these states holds a slot the profile must account for.
HELD_STATES = frozenset(
    {"starting", "running", "backoff", "hung", "crashed", "crash_loop", "paused"}
)
# Free resources before using them; the parts left alone last.
ORDER = {"stop": 0, "migrate": 1, "start": 2, "keep": 3, "skip": 4}


@dataclass(frozen=True)
class Action:
    """One line of the plan."""

    kind: str  # stop | migrate | start | keep | skip
    game: str
    settings: Settings  # what the game runs with afterwards (empty for stop and skip)
    before: Settings  # its shape and GPUs now (empty when not running)
    why: str = ""  # a skip's reason, its whole line

    def describe(self) -> str:
        """One human line: 'migrate Pong: 8 -> 32 envs, minibatch 256 -> 512'."""
        if self.kind == "skip":
            return self.why
        if self.kind in ("stop", "keep"):
            return f"{self.kind} {self.game}"
        if self.kind == "start":
            return f"start {self.game}: {_shape_text(self.settings)}"
        changes = [
            f"{k} {self.before.get(k)} -> {self.settings.get(k)}"
            for k in PROFILE_KEYS
            if self.before.get(k) != self.settings.get(k)
        ]
        return f"migrate {self.game}: {', '.join(changes)}"


def _shape_text(s: Settings) -> str:
    return (
        f"{s.get('num_envs')} envs, {s.get('num_steps')} steps, minibatch {s.get('minibatch_size')}"
    )


def target_settings(cfg: Config, name: str) -> dict[str, Settings]:
    """Game -> full trainer settings for every game of profile `name` (KeyError if none)."""
    p = cfg.profiles[name]
    gpus = {"gpus": p.gpus} if p.gpus else {}
    return {g: {**cfg.game_settings(g), **shape_from(p), **gpus} for g in p.games}


def held(games: dict[str, GameState]) -> dict[str, GameState]:
    """The games that hold a slot now (wanted and not stopped or done)."""
    return {n: s for n, s in games.items() if s.wanted and s.state in HELD_STATES}


def diff(games: dict[str, GameState], target: dict[str, Settings]) -> list[Action]:
    """The ordered plan from the current GameStates to the target settings."""
    parts = _parts_of_jobs(games, target)
    plan = [Action("skip", n, {}, {}, why) for n, why in parts.items()]
    now = {n: s for n, s in held(games).items() if n not in parts}
    plan += [Action("stop", n, {}, _before(s)) for n, s in now.items() if n not in target]
    for name, settings in target.items():
        if name in parts:
            continue
        cur = now.get(name)
        if cur is None:
            plan.append(Action("start", name, settings, {}))
        elif _before(cur) != profile_part(settings):
            plan.append(Action("migrate", name, settings, _before(cur)))
        else:
            plan.append(Action("keep", name, settings, _before(cur)))
    return sorted(plan, key=lambda a: ORDER[a.kind])


def _parts_of_jobs(games: dict[str, GameState], target: dict[str, Settings]) -> dict[str, str]:
    """Game -> its skip line, for each game the profile must leave alone: a part of a
    job over several hosts here (held or not), or one the profile would start as such
    a part (its configured settings span hosts). Changing one node alone would make the
    whole job refuse to start."""
    found: dict[str, str] = {}
    for name, st in games.items():
        span = job_parts.part_of_job(st)
        if span is not None and (name in target or name in held(games)):
            found[name] = job_parts.skipped(name, span)
    for name, settings in target.items():
        configured = Span.of(settings)
        if name not in found and configured.spans:
            found[name] = job_parts.skipped(name, configured)
    return found


def _before(state: GameState) -> Settings:
    return profile_part(state.settings)


def profile_part(settings: Settings) -> Settings:
    """The settings a profile converges (PROFILE_KEYS): a migrate action changes these."""
    return {**shape_data(settings), "gpus": settings.get("gpus", DEFAULT_GPUS)}


def on_the_wire(actions: list[Action]) -> list[ProfileAction]:
    """The plan on the wire: each action plus its human line."""
    return [
        ProfileAction(
            kind=a.kind, game=a.game, settings=a.settings, before=a.before, text=a.describe()
        )
        for a in actions
    ]


def final_envs(target: dict[str, Settings]) -> int:
    """Envs summed over the profile: what the guard weighs before applying it."""
    return sum(int(s.get("num_envs") or 0) for s in target.values())
