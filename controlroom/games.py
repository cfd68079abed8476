"""The games controlroom knows by name, without importing envpool.

The laptop validates config.toml with no envpool installed, so the catalogue of
trainable environments is a static list here: every Atari game envpool ships as a
`-v5` task (all 104 run through the built-in trainer's one Nature-CNN pipeline;
tests/trainer/test_game_catalogue.py checks this list against envpool's registry),
plus CartPole-v1 for quick learning checks on a CPU. This is the one catalogue the
trainer, the agent, `config check` and the TUI's picker all read.
"""

from __future__ import annotations

import difflib

ATARI_GAMES: tuple[str, ...] = (
    "Adventure",
    "AirRaid",
    "Alien",
    "Amidar",
    "Assault",
    "Asterix",
    "Asteroids",
    "Atlantis",
    "Atlantis2",
    "Backgammon",
    "BankHeist",
    "BasicMath",
    "BattleZone",
    "BeamRider",
    "Berzerk",
    "Blackjack",
    "Bowling",
    "Boxing",
    "Breakout",
    "Carnival",
    "Casino",
    "Centipede",
    "ChopperCommand",
    "CrazyClimber",
    "Crossbow",
    "Darkchambers",
    "Defender",
    "DemonAttack",
    "DonkeyKong",
    "DoubleDunk",
    "Earthworld",
    "ElevatorAction",
    "Enduro",
    "Entombed",
    "Et",
    "FishingDerby",
    "FlagCapture",
    "Freeway",
    "Frogger",
    "Frostbite",
    "Galaxian",
    "Gopher",
    "Gravitar",
    "Hangman",
    "HauntedHouse",
    "Hero",
    "HumanCannonball",
    "IceHockey",
    "Jamesbond",
    "JourneyEscape",
    "Kaboom",
    "Kangaroo",
    "KeystoneKapers",
    "KingKong",
    "Klax",
    "Koolaid",
    "Krull",
    "KungFuMaster",
    "LaserGates",
    "LostLuggage",
    "MarioBros",
    "MiniatureGolf",
    "MontezumaRevenge",
    "MrDo",
    "MsPacman",
    "NameThisGame",
    "Othello",
    "Pacman",
    "Phoenix",
    "Pitfall",
    "Pitfall2",
    "Pong",
    "Pooyan",
    "PrivateEye",
    "Qbert",
    "Riverraid",
    "RoadRunner",
    "Robotank",
    "Seaquest",
    "SirLancelot",
    "Skiing",
    "Solaris",
    "SpaceInvaders",
    "SpaceWar",
    "StarGunner",
    "Superman",
    "Surround",
    "Tennis",
    "Tetris",
    "TicTacToe3d",
    "TimePilot",
    "Trondead",
    "Turmoil",
    "Tutankham",
    "UpNDown",
    "Venture",
    "VideoCheckers",
    "VideoChess",
    "VideoCube",
    "VideoPinball",
    "WizardOfWor",
    "WordZapper",
    "YarsRevenge",
    "Zaxxon",
)

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


def known_env_ids() -> list[str]:
    """Every envpool task id in the catalogue, in the same order as known_names()."""
    return [*(f"{g}-v5" for g in ATARI_GAMES), *CLASSIC_GAMES.values()]


def known_names() -> list[str]:
    """Every short game name, in a stable order, for messages and pickers."""
    return [*ATARI_GAMES, *CLASSIC_GAMES]


def suggest(name: str, choices: list[str] | None = None) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or an empty string."""
    pool = known_names() if choices is None else choices
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
