"""Bootstrap for real: a host with no agent (a tmp folder as its install location, reached
through the real sshd) gets a venv, this controlroom as a wheel over SFTP, pip with the
[agent] extra, cron autostart (systemd is not PID 1 here) and a running agent; then the
TUI links to it. The CLI's `--install` is run the same way, in a real terminal (tmux).

pip resolves against this machine's configured indexes (torch pinned to the CPU wheel on
disk); `--no-compile` only skips writing .pyc files. About a minute: marked slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psutil
import pytest

from controlroom import __version__
from controlroom.agent.hostcli import autostart
from controlroom.config import HostConfig, loads
from controlroom.link import bootstrap, upgrade
from controlroom.link.agent_channel import open_session
from controlroom.link.local import open_local
from controlroom.link.ssh import SshTarget
from controlroom.link.wheel import build_wheel
from controlroom.tui.app import build_app
from controlroom.tui.screens.modals import ConfirmScreen, ProgressScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView
from tests.link.realagent import CONFIG, ssh_target, wait_for
from tests.sshd import SshServer
from tests.terminal import terminal

pytestmark = pytest.mark.slow
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


@dataclass
class FreshHost:
    """A host folder with nothing installed, and the laptop config that names it."""

    root: Path
    host: HostConfig
    laptop_config: Path

    @property
    def venv(self) -> Path:
        return self.root / "install" / "venv"


def _laptop_toml(root: Path, constraint: Path) -> str:
    return CONFIG + "\n".join(
        [
            "[hosts.tnr-0]",
            'ssh_alias = "tnr-0"',
            f'state_dir = "{root / "state"}"',
            f'python = "{BASE_PYTHON}"',
            f'controlroom = "{root / "install" / "venv" / "bin" / "controlroom"}"',
            f'pip_args = ["--no-compile", "--constraint", "{constraint}"]',
            "",
        ]
    )


@pytest.fixture
def sftp_sshd(sshd: SshServer) -> SshServer:
    """The session sshd; it serves SFTP like a real host (the upload needs it)."""
    return sshd


@pytest.fixture(scope="module")
def fresh_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshHost]:
    """A fresh host; afterwards its agent and trainers stop, our crontab lines go, the
    venv (1.7 GB) is deleted."""
    if shutil.which("crontab") is None:
        pytest.skip("cron is not installed (apt-get install -y cron)")
    root = tmp_path_factory.mktemp("host")
    constraint = root / "constraints.txt"
    constraint.write_text("torch==2.13.0\n")  # the CPU wheel on this machine's disk
    laptop = root / "laptop" / "config.toml"
    laptop.parent.mkdir()
    laptop.write_text(_laptop_toml(root, constraint))
    crontab_before = autostart.read_crontab()
    try:
        yield FreshHost(root, loads(laptop.read_text()).hosts["tnr-0"], laptop)
    finally:
        _stop_agent(root / "state")
        autostart.write_crontab(crontab_before)
        shutil.rmtree(root / "install", ignore_errors=True)


def _stop_agent(state_dir: Path) -> None:
    async def stop_all() -> None:
        session = await open_local(str(state_dir / "agent.sock"))
        try:
            await session.request("stop_all", timeout=20)
        finally:
            await session.close()

    with contextlib.suppress(Exception):
        asyncio.run(stop_all())
    for pid in _pids_mentioning(str(state_dir)):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line names `text` (the agent and its trainers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(proc.name))
    return found


async def test_tui_offers_install_then_links_to_the_new_agent(
    sftp_sshd: SshServer, fresh_host: FreshHost
) -> None:
    host, ssh = fresh_host.host, ssh_target(sftp_sshd)

    async def install(progress: bootstrap.Progress) -> None:
        # the CLI's keepalive (5 s x 3), not the link tests' quick one: 2 busy cores
        plain = SshTarget(sftp_sshd.alias, ssh_config=sftp_sshd.ssh_config)
        await bootstrap.install(plain, host, fresh_host.laptop_config, progress)

    target = HostTarget("tnr-0", partial(open_session, ssh, host), install=install)
    app = build_app([target], config=loads(fresh_host.laptop_config.read_text()))
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(HostView)
        await wait_for(
            lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted,
            what="install offer",
        )
        assert "no controlroom agent on tnr-0" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        await wait_for(
            lambda: isinstance(app.screen, ProgressScreen) and app.screen.is_mounted,
            what="progress",
        )
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        await wait_for(lambda: progress.finished, timeout=240, what="install finished")
        said = "\n".join(progress.lines)
        assert "FAILED" not in said, said
        for step in (
            "checking",
            "creating the venv",
            "uploading controlroom-",
            "pip",
            "installing autostart",
            "crontab: added",
            "starting the agent",
            "the agent is running",
        ):
            assert step in said, f"{step!r} not in:\n{said}"
        await wait_for(lambda: view.status.up, timeout=30, what="link to the new agent")
        assert view.state and view.state.host.agent_version == __version__
        await pilot.press("escape")
    venv_python = str(fresh_host.venv / "bin" / "python")
    assert any(venv_python in line for line in autostart.read_crontab())
    agents = [
        p
        for p in _pids_mentioning(str(host.state_dir))
        if venv_python in Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    ]
    assert agents, "no agent process running from the host's venv"
    imports = subprocess.run(
        [venv_python, "-c", "import controlroom.agent, torch, envpool"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imports.returncode == 0, imports.stderr


def test_cli_install_in_a_terminal(sftp_sshd: SshServer, fresh_host: FreshHost) -> None:
    """`controlroom tnr-0 --install` prints each step, then opens the TUI on the agent."""
    cmd = (
        f"cd {fresh_host.laptop_config.parent} && {sys.executable} -m controlroom tnr-0 "
        f"--install --ssh-config {sftp_sshd.ssh_config}"
    )
    with terminal(cmd, "cr-install") as term:
        # A venv and torch installed on a loaded machine: minutes; the header says when.
        term.wait(" linked (", 480)
        term.send("q")
        text = term.wait("EXIT=", 120, scrollback=200)
    assert "EXIT=0" in text, text
    for step in (
        "tnr-0: checking",
        "tnr-0: creating the venv",
        "tnr-0: uploading",
        "tnr-0: installing controlroom",
        "tnr-0: the agent is running",
    ):
        assert step in text, f"{step!r} not in:\n{text}"


def _lock_pid(state_dir: Path) -> int:
    return int((state_dir / "agent.lock").read_text().split()[0])


async def _trainer_pid(state_dir: Path, game: str, *, add: bool) -> int:
    """The pid the agent reports for `game`'s trainer (adding the game first if asked)."""
    session = await open_local(str(state_dir / "agent.sock"))
    try:
        if add:
            await session.request("add_game", game=game)

        def pid() -> int:
            state = session.state.games.get(game)
            return (state.pid if state else None) or 0

        await wait_for(lambda: pid() > 0, timeout=60, what=f"{game}'s trainer pid")
        return pid()
    finally:
        await session.close()


async def _install(sshd: SshServer, fresh_host: FreshHost, marker: bytes) -> str:
    said: list[str] = []
    plain = SshTarget(sshd.alias, ssh_config=sshd.ssh_config)
    await bootstrap.install(
        plain,
        fresh_host.host,
        fresh_host.laptop_config,
        said.append,
        extra_files=[("_rebuild.txt", marker)],
    )
    return "\n".join(said)


async def test_a_same_version_rebuild_is_installed_and_the_agent_restarted(
    sftp_sshd: SshServer, fresh_host: FreshHost, tmp_path: Path
) -> None:
    """Issue 11 §3: pip alone says "already satisfied" to a rebuilt 0.1.0, and the running
    agent would keep the old code; its trainer must survive and be adopted."""
    state = Path(fresh_host.host.state_dir)
    trainer = await _trainer_pid(state, "CartPole", add=True)
    old_agent = _lock_pid(state)
    said = await _install(sftp_sshd, fresh_host, b"rebuilt")
    assert "torch: " in said
    assert "reinstalling build" in said and "restarting the running agent" in said, said
    new_agent = _lock_pid(state)
    assert new_agent != old_agent and not psutil.pid_exists(old_agent)
    assert await _trainer_pid(state, "CartPole", add=False) == trainer  # adopted, not restarted
    venv_python = str(fresh_host.venv / "bin" / "python")
    installed = subprocess.run(
        [venv_python, "-c", upgrade.INSTALLED_BUILD],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert installed == build_wheel(tmp_path / "w", [("_rebuild.txt", b"rebuilt")]).build
    # The same build again: nothing to reinstall, nobody restarted.
    again = await _install(sftp_sshd, fresh_host, b"rebuilt")
    assert "reinstalling" not in again and "restarting" not in again, again
    assert _lock_pid(state) == new_agent
