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


@pytest.fixture(scope="session")
def trained_cartpole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run dir whose last checkpoint is a CartPole policy trained to balance (the
    learning test's settings, 160,000 steps: ~50-80 s here); made once per session.
    Trained with seed 1 on one CPU thread it is the same policy every time."""
    from tests.trainer.helpers import run_trainer
    from tests.trainer.test_learning import CARTPOLE

    run_dir = tmp_path_factory.mktemp("cartpole")
    flags = [*CARTPOLE[: CARTPOLE.index("--total-steps")], "--total-steps", "160000"]
    result = run_trainer(run_dir, *flags, timeout=300)
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture(scope="session")
def untrained_pong(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run dir with a Pong checkpoint after 32 steps: a policy that has learnt nothing."""
    from tests.trainer.helpers import TINY_PONG, run_trainer

    run_dir = tmp_path_factory.mktemp("pong_untrained")
    result = run_trainer(run_dir, *TINY_PONG, "--total-steps", "32")
    assert result.returncode == 0, result.stderr
    return run_dir
