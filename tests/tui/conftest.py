"""A real agent (session-wide) for the TUI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.link.realagent import RealAgent, start_agent


@pytest.fixture(scope="session")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAgent]:
    """`controlroom agent run` with tiny trainer settings, stopped (with its trainers) after."""
    running = start_agent(tmp_path_factory.mktemp("agent"))
    try:
        yield running
    finally:
        running.stop()
