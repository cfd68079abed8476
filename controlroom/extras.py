"""The [agent] extra: the modules it brings, who needs which, and the one way a missing
or broken one is said.

A laptop install (`pip install controlroom`) has none of them; whatever would start an
agent here asks first, in milliseconds and without importing torch, instead of starting
one that dies on its first import. The agent itself needs psutil alone: it reads GPUs
through pynvml when it can (without it the snapshot says "nvidia-ml-py is not installed")
and never imports torch or envpool. Only the built-in trainer needs those, so a host that
runs its own trainer `command`s trains without them.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

# What `pip install 'controlroom[agent]'` brings (pyproject's [agent] extra, by module name).
AGENT_EXTRA = ("torch", "envpool", "pynvml", "psutil", "numpy")
AGENT_NEEDS = ("psutil",)  # imported by the agent itself; pynvml is optional to it
TRAINER_NEEDS = ("torch", "envpool", "numpy")  # imported by the built-in trainer
INSTALL_HINT = "pip install 'controlroom[agent]'"


def missing_modules(names: tuple[str, ...] = AGENT_EXTRA) -> list[str]:
    """The modules among `names` this Python cannot import (located, never imported)."""
    return [name for name in names if not _findable(name)]


def agent_extra_problem(what: str, needs: tuple[str, ...] = AGENT_NEEDS) -> str | None:
    """One line saying `what` needs modules of the extra and how to install it; None if
    `needs` are all here."""
    missing = missing_modules(needs)
    if not missing:
        return None
    return (
        f"{what} needs the agent extra, and this Python ({sys.executable}) has no "
        f"{', '.join(missing)}: install the host extra: {INSTALL_HINT}"
    )


def builtin_trainer_problem() -> str | None:
    """Why the built-in trainer cannot start in this Python (torch or envpool missing),
    or None; asked before starting a game that uses it."""
    return agent_extra_problem("the built-in trainer", TRAINER_NEEDS)


def import_problem(exc: ImportError, what: str) -> str | None:
    """The line for an ImportError of the extra: a module of it missing, or there but
    not importing (a broken or partial install). None for any other ImportError, which
    is a bug to raise as it is."""
    name = (exc.name or "").split(".")[0]
    if isinstance(exc, ModuleNotFoundError) and name in AGENT_EXTRA:
        return f"{what}: missing module {exc.name!r}; install the host extra: {INSTALL_HINT}"
    if name not in AGENT_EXTRA:
        frames = traceback.extract_tb(exc.__traceback__)
        name = next((m for m in AGENT_EXTRA if frames and _in_package(frames[-1], m)), "")
    if not name:
        return None
    return (
        f"{what}: cannot import {name} ({type(exc).__name__}: {exc}): reinstall the "
        f"host extra: {INSTALL_HINT}"
    )


def _in_package(frame: traceback.FrameSummary, module: str) -> bool:
    path = Path(frame.filename)
    return module in path.parts[:-1] or path.name == f"{module}.py"


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install, or a module with no spec
        return False
