"""The [agent] extra: the modules it brings, and whether this Python has them.

A laptop install (`pip install controlroom`) has none of them; whatever would start an
agent here asks first, in milliseconds and without importing torch, instead of starting
one that dies on its first import.
"""

from __future__ import annotations

import importlib.util
import sys

# What `pip install 'controlroom[agent]'` brings (pyproject's [agent] extra, by module name):
# the agent itself needs psutil and pynvml, its built-in trainer torch, envpool and numpy.
AGENT_EXTRA = ("torch", "envpool", "pynvml", "psutil", "numpy")
INSTALL_HINT = "pip install 'controlroom[agent]'"


def missing_agent_modules() -> list[str]:
    """The modules of the extra this Python cannot import (located, never imported)."""
    return [name for name in AGENT_EXTRA if not _findable(name)]


def agent_extra_problem(what: str) -> str | None:
    """One line saying `what` needs the extra and how to install it; None if it is here."""
    missing = missing_agent_modules()
    if not missing:
        return None
    return (
        f"{what} needs the agent extra, and this Python ({sys.executable}) has no "
        f"{', '.join(missing)}: install the host extra: {INSTALL_HINT}"
    )


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install, or a module with no spec
        return False
