"""Fixtures shared by every test: a real OpenSSH server on loopback, a real agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentHarness
from tests.sshd import SshServer, make_server


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A private sshd on 127.0.0.1 with its own keys; `Host tnr-0` in `sshd.ssh_config`."""
    server = make_server(tmp_path_factory.mktemp("sshd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def repo_root() -> Path:
    """The checkout's top folder (config.toml, README.md live here)."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentHarness]:
    """A real agent on a private state dir (not yet started: write_config() then start());
    every process it started is cleaned up after the test."""
    harness = AgentHarness(tmp_path)
    try:
        yield harness
    finally:
        harness.close()
