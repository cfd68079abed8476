"""A real agent (session-wide) for the TUI tests."""

from __future__ import annotations

from tests.link.realagent import agent  # noqa: F401  (the session agent, shared)
