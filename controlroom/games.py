"""The games controlroom knows by name, without importing envpool.

The laptop validates config.toml with no envpool installed, so the catalogue of
trainable environments is a static list here. It is the envpool Atari v5 set
most RL work uses, plus CartPole-v1 for quick learning checks on a CPU.
"""

from __future__ import annotations

import difflib

ATARI_GAMES: tuple[str, ...] = (
    "Alien", "Amidar", "Assault", "Asterix", "Asteroids", "Atlantis", "BankHeist",
    "BattleZone", "BeamRider", "Berzerk", "Bowling", "Boxing", "Breakout", "Centipede",
    "ChopperCommand", "CrazyClimber", "Defender", "DemonAttack", "DoubleDunk", "Enduro",
    "FishingDerby", "Freeway", "Frostbite", "Gopher", "Gravitar", "Hero", "IceHockey",
    "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MontezumaRevenge", "MsPacman",
    "NameThisGame", "Phoenix", "Pitfall", "Pong", "PrivateEye", "Qbert", "Riverraid",
    "RoadRunner", "Robotank", "Seaquest", "Skiing", "Solaris", "SpaceInvaders",
    "StarGunner", "Surround", "Tennis", "TimePilot", "Tutankham", "UpNDown", "Venture",
    "VideoPinball", "WizardOfWor", "YarsRevenge", "Zaxxon",
)  # fmt: skip

CLASSIC_GAMES: dict[str, str] = {"CartPole": "CartPole-v1"}


def env_id_for(name: str) -> str | None:
    """The envpool task id for a game name or id, or None when it is unknown."""
    if name in CLASSIC_GAMES:
        return CLASSIC_GAMES[name]
    if name in CLASSIC_GAMES.values():
        return name
    short = name.removesuffix("-v5")
    return f"{short}-v5" if short in ATARI_GAMES else None


def is_atari(env_id: str) -> bool:
    """Whether an env id names an Atari game (pixels, CNN) rather than a classic task."""
    return env_id.endswith("-v5")


def known_names() -> list[str]:
    """Every short game name, in a stable order, for messages and pickers."""
    return [*ATARI_GAMES, *CLASSIC_GAMES]


def suggest(name: str, choices: list[str] | None = None) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or an empty string."""
    pool = known_names() if choices is None else choices
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
