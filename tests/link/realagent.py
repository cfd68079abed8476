"""A real controlroom agent for the link and TUI tests, with tiny trainer settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from controlroom.config import HostConfig
from controlroom.link.errors import LinkError
from controlroom.link.local import open_local
from controlroom.link.ssh import SshTarget
from tests.sshd import SshServer

VENV_CONTROLROOM = Path(sys.executable).parent / "controlroom"

CONFIG = """
[trainer]
num_envs = 2
num_steps = 16
minibatch_size = 16
checkpoint_interval_s = 5
device = "cpu"
torch_threads = 1

[games.Pong]
target_episodes = 100
num_envs = 2
num_steps = 16
minibatch_size = 16

[games.CartPole]
target_episodes = 2000

[profiles.cpu]
description = "one tiny CartPole"
games = ["CartPole"]
num_envs = 2
num_steps = 16
minibatch_size = 16

[agent]
heartbeat_s = 1.0
telemetry_s = 0.5
stop_grace_s = 5.0
backoff_initial_s = 0.5
"""


@dataclass
class RealAgent:
    """A running agent: its state dir, config and socket."""

    root: Path
    state_dir: Path
    config: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] | None = None
    """the agent's environment (None: ours), e.g. CONTROLROOM_BOOT_ID_FILE for reboots"""

    @property
    def socket(self) -> Path:
        return self.state_dir / "agent.sock"

    def host_config(self, controlroom: str = str(VENV_CONTROLROOM)) -> HostConfig:
        """The laptop-side [hosts.tnr-0] that reaches this agent through the sshd fixture."""
        return HostConfig(ssh_alias="tnr-0", state_dir=str(self.state_dir), controlroom=controlroom)

    def laptop_config_text(self, sshd: SshServer) -> str:
        """A laptop config.toml naming this agent's host and the same games."""
        return CONFIG + (
            f'\n[hosts.tnr-0]\nssh_alias = "tnr-0"\nstate_dir = "{self.state_dir}"\n'
            f'controlroom = "{VENV_CONTROLROOM}"\n'
        )

    def trainers(self) -> list[psutil.Process]:
        """Live processes running in one of this agent's run dirs (its trainers)."""
        runs, found = str(self.state_dir / "runs"), []
        for p in psutil.process_iter(["cmdline", "status", "cwd"]):
            here = runs in " ".join(p.info["cmdline"] or []) or (p.info["cwd"] or "").startswith(
                runs
            )
            if here and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        return found

    def power_off(self) -> None:
        """The host goes down: SIGKILL the agent and every trainer, nothing saved."""
        self.process.kill()
        self.process.wait(10)
        for p in self.trainers():
            with contextlib.suppress(psutil.Error):
                p.kill()

    def boot(self) -> None:
        """Start the agent again on the same state dir (returns before it answers)."""
        self.process = _launch(self.root, self.state_dir, self.config, self.env)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run(_stop_all(self.socket))
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


async def _stop_all(socket: Path) -> None:
    session = await open_local(str(socket))
    try:
        await session.request("stop_all", timeout=20)
    finally:
        await session.close()


def start_agent(root: Path, env: dict[str, str] | None = None) -> RealAgent:
    """Start `controlroom agent run` in its own session; wait for its socket."""
    root.mkdir(parents=True, exist_ok=True)
    state_dir, config = root / "state", root / "config.toml"
    config.write_text(CONFIG)
    proc = _launch(root, state_dir, config, env)
    agent = RealAgent(root, state_dir, config, proc, env)
    deadline = time.monotonic() + 30
    while not agent.socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"agent did not start; see {root / 'agent.out'}")
        time.sleep(0.05)
    return agent


def _launch(
    root: Path, state_dir: Path, config: Path, env: dict[str, str] | None
) -> subprocess.Popen[bytes]:
    with (root / "agent.out").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "controlroom",
                "agent",
                "run",
                "--state-dir",
                str(state_dir),
                "--config",
                str(config),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
        )


async def answers(socket: Path) -> bool:
    """The agent on `socket` opens a session (a leftover socket file does not)."""
    try:
        session = await open_local(str(socket))
    except (LinkError, OSError):
        return False
    await session.close()
    return True


def ssh_target(sshd: SshServer) -> SshTarget:
    return SshTarget(
        sshd.alias, ssh_config=sshd.ssh_config, keepalive_interval=1, keepalive_count_max=2
    )


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 20, what: str = "condition"
) -> None:
    """Poll until `predicate` holds (sync or async), else fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive_path(pid: int | None) -> bool:
    """A live, non-zombie process (PID 1 here reaps slowly; /proc says Z meanwhile)."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][0] not in "ZX"


@pytest.fixture(scope="session")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAgent]:
    """`controlroom agent run` with tiny trainer settings, stopped (with its trainers) after."""
    running = start_agent(tmp_path_factory.mktemp("agent"))
    try:
        yield running
    finally:
        running.stop()
