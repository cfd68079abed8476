"""The `gpus` setting: how many GPUs a game trains on, or which ones.

`gpus = N` (an int >= 1) asks for N devices that the agent picks (N > 1 runs the game
as one torchrun data-parallel job of world size N); `gpus = [1, 3]` pins the game to
those device indices (world size = the list's length). On a host without a GPU, the N
ranks run on the CPU. The rule is written once here: config.toml, a client's override
and the store's copy are all checked by `gpus_problem`, and the agent and the trainer
side read a game's world size and pinned devices through `world_size` and `pinned_gpus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_GPUS",
    "MAX_GPUS",
    "Gpus",
    "gpus_override_problem",
    "gpus_problem",
    "parse_gpus",
    "pinned_gpus",
    "show_gpus",
    "world_size",
]

# A setting's value: a count, or the device indices it is pinned to.
Gpus = int | list[int]
DEFAULT_GPUS = 1
# More devices than any one host has (8 is the usual box, 16 the largest); a typo's
# extra digits stop here instead of at torchrun.
MAX_GPUS = 64


def gpus_problem(value: Any) -> str | None:
    """Why `value` is not a `gpus` setting (a count 1..MAX_GPUS, or a non-empty list of
    distinct device indices 0..MAX_GPUS-1), or None."""
    if isinstance(value, bool):
        return f"must be a GPU count or a list of GPU indices, not {value!r}"
    if isinstance(value, int):
        if 1 <= value <= MAX_GPUS:
            return None
        return f"is {value}; a GPU count must be 1..{MAX_GPUS}"
    if isinstance(value, list):
        return _list_problem(value)
    return f"must be a GPU count (2) or a list of GPU indices ([0, 3]), not {value!r:.60}"


def _list_problem(value: list[Any]) -> str | None:
    if not value:
        return "is []; name at least one GPU index, or give a count"
    if len(value) > MAX_GPUS:
        return f"names {len(value)} GPUs; at most {MAX_GPUS}"
    for index in value:
        if isinstance(index, bool) or not isinstance(index, int):
            return f"GPU index {index!r:.30} is not an integer"
        if not 0 <= index < MAX_GPUS:
            return f"GPU index {index} is out of range 0..{MAX_GPUS - 1}"
    twice = sorted({i for i in value if value.count(i) > 1})
    if twice:
        return f"names GPU {', '.join(map(str, twice))} more than once"
    return None


def gpus_override_problem(value: Any) -> str | None:
    """As `gpus_problem`, with 0 meaning "inherit" (a game's or profile's override)."""
    if value == 0 and not isinstance(value, bool) and isinstance(value, int):
        return None
    return gpus_problem(value)


def world_size(settings: Mapping[str, Any]) -> int:
    """How many ranks a game's settings ask for (a settings dict without `gpus`, from
    before the setting existed, is one)."""
    value = settings.get("gpus", DEFAULT_GPUS)
    return len(value) if isinstance(value, list) else int(value)


def pinned_gpus(settings: Mapping[str, Any]) -> list[int] | None:
    """The device indices a game is pinned to, or None when the agent places it."""
    value = settings.get("gpus", DEFAULT_GPUS)
    return [int(i) for i in value] if isinstance(value, list) else None


def parse_gpus(text: str) -> Gpus:
    """A command-line `--gpus`: "2" is a count, "0,3" (or "3,") pins; ValueError with
    the problem otherwise."""
    text = text.strip()
    if "," in text:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"--gpus {text!r}: GPU indices are whole numbers, e.g. 0,3")
        value: Gpus = [int(p) for p in parts]
    elif text.isdigit():
        value = int(text)
    else:
        raise ValueError(f"--gpus {text!r}: a count (2) or GPU indices (0,3)")
    problem = gpus_problem(value)
    if problem is not None:
        raise ValueError(f"--gpus {problem}")
    return value


def show_gpus(value: Gpus) -> str:
    """The setting in words: "2 GPUs" or "GPU 0,3 (pinned)"."""
    if isinstance(value, list):
        return f"GPU {','.join(map(str, value))} (pinned)"
    return f"{value} GPU" + ("s" if value != 1 else "")
