"""Fixtures for the agent tests (the plain `agent` one is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.faultkit import FaultHarness


@pytest.fixture
def fagent(tmp_path: Path) -> Iterator[FaultHarness]:
    """A real agent whose store and processes faults can be injected into (faultkit)."""
    harness = FaultHarness(tmp_path)
    try:
        yield harness
    finally:
        harness.close()
