"""Fixtures for the agent tests: a real agent subprocess on a private state dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentHarness


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentHarness]:
    """A harness (not yet started: write_config() then start())."""
    harness = AgentHarness(tmp_path)
    try:
        yield harness
    finally:
        harness.close()
