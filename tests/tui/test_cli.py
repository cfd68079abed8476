"""Bad input on the command line: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.link.realagent import RealAgent
from tests.sshd import SshServer, free_port
from tests.terminal import terminal


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlroom", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def laptop(tmp_path: Path, sshd: SshServer, agent: RealAgent) -> Path:
    (tmp_path / "config.toml").write_text(agent.laptop_config_text(sshd))
    return tmp_path


def _one_line_exit_2(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr


def _ssh_config(sshd: SshServer, tmp_path: Path, old: str, new: str) -> str:
    path = tmp_path / "ssh_config"
    path.write_text(sshd.ssh_config.read_text().replace(old, new))
    return str(path)


def test_unknown_alias(laptop: Path, sshd: SshServer) -> None:
    done = run_cli("nosuch.invalid", "--ssh-config", str(sshd.ssh_config), cwd=laptop)
    _one_line_exit_2(done, "unknown host")


def test_refused(laptop: Path, sshd: SshServer) -> None:
    cfg = _ssh_config(sshd, laptop, f"Port {sshd.port}", f"Port {free_port()}")
    _one_line_exit_2(run_cli("tnr-0", "--ssh-config", cfg, cwd=laptop), "refused")


def test_host_key_mismatch(laptop: Path, sshd: SshServer) -> None:
    empty = laptop / "empty_known_hosts"
    empty.write_text("")
    cfg = _ssh_config(sshd, laptop, str(sshd.known_hosts), str(empty))
    _one_line_exit_2(run_cli("tnr-0", "--ssh-config", cfg, cwd=laptop), "known_hosts")


def test_auth_failure(laptop: Path, sshd: SshServer) -> None:
    key = laptop / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cfg = _ssh_config(sshd, laptop, str(sshd.client_key), str(key))
    _one_line_exit_2(run_cli("tnr-0", "--ssh-config", cfg, cwd=laptop), "authentication")


def test_no_agent(laptop: Path, sshd: SshServer) -> None:
    cfg = laptop / "config.toml"
    cfg.write_text(cfg.read_text().replace('controlroom = "', 'controlroom = "/nope'))
    _one_line_exit_2(
        run_cli("tnr-0", "--ssh-config", str(sshd.ssh_config), cwd=laptop), "--install"
    )


def test_no_agent_in_a_terminal_opens_the_app_offering_the_install(
    laptop: Path, sshd: SshServer
) -> None:
    """A person at a terminal gets the app: it says there is no agent and its install key
    runs the bootstrap (stopping at the host's missing python, by design of this test)."""
    cfg = laptop / "config.toml"
    cfg.write_text(
        cfg.read_text().replace('controlroom = "', 'controlroom = "/nope')
        + 'python = "/nope/python3"\n'
    )
    cmd = f"cd {laptop} && {sys.executable} -m controlroom tnr-0 --ssh-config {sshd.ssh_config}"
    with terminal(cmd, "cr-noagent") as term:
        term.wait("Install the agent on tnr-0 now?", 120)
        term.send("n")
        assert "no agent on tnr-0" in term.wait("press i to install it", 60)
        screen = term.wait("i Install", 60)  # the footer is redrawn a frame after the view
        assert "i Install" in screen.strip().splitlines()[-1]  # the footer offers the key
        term.send("i")
        term.wait("FAILED: could not run /nope/python3", 120)
        term.send("Escape")
        term.wait_gone("FAILED: could not run /nope/python3", 60)  # the progress closed
        term.wait("press i to install it", 60)
        term.send("q")
        assert "EXIT=0" in term.wait("EXIT=", 60)
