"""A real agent (session-wide) and a laptop-only venv (per module) for the link tests."""

from __future__ import annotations

from tests.link.laptop_env import laptop_python  # noqa: F401  (laptop-only venv, per module)
from tests.link.realagent import agent  # noqa: F401  (the session agent, shared)
