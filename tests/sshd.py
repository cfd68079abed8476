"""A private OpenSSH server on 127.0.0.1 for tests: real sshd, real keys, strict known_hosts.

Everything lives in one temp directory: host key, client key, authorized_keys, an ssh
config with `Host tnr-0`, and a known_hosts file holding exactly the server's key.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SSHD = "/usr/sbin/sshd"
ALIAS = "tnr-0"


@dataclass
class SshServer:
    """A running sshd and the client-side files that reach it."""

    root: Path
    port: int
    user: str
    ssh_config: Path
    known_hosts: Path
    client_key: Path
    host_key: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def alias(self) -> str:
        return ALIAS

    def start(self) -> None:
        """Start sshd in the foreground of a child process and wait until it listens."""
        log = (self.root / "sshd.log").open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
            stdout=log,
            stderr=log,
        )
        _wait_listening(self.port, self.process)

    def stop(self) -> None:
        """Stop sshd and, with it, every connection it serves."""
        if self.process is None:
            return
        sessions = self._sessions()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.process = None
        _kill(sessions)

    def kill_connections(self) -> None:
        """Drop every established SSH connection but keep listening (a link drop)."""
        _kill(self._sessions())

    def _sessions(self) -> list[psutil.Process]:
        # Only this server's own per-connection children: other sshd instances (other
        # test runs on the same machine, the user's own) are none of our business.
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=False)
        except psutil.NoSuchProcess:
            return []


def _kill(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(processes, timeout=5)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_server(root: Path) -> SshServer:
    """Write keys and configs under `root` and return a server ready to start."""
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} not found: install openssh-server (.ci/run does)")
    root.mkdir(parents=True, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    host_key, client_key = root / "host_ed25519", root / "client_ed25519"
    for key in (host_key, client_key):
        _keygen(key)
    port, user = free_port(), getpass.getuser()
    shutil.copy(client_key.with_suffix(".pub"), root / "authorized_keys")
    (root / "sshd_config").write_text(_sshd_config(root, port, host_key))
    known = root / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text().strip()}\n")
    ssh_config = root / "ssh_config"
    ssh_config.write_text(_ssh_config(port, user, client_key, known))
    return SshServer(root, port, user, ssh_config, known, client_key, host_key)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
    )


def _sshd_config(root: Path, port: int, host_key: Path) -> str:
    return "\n".join(
        [
            f"ListenAddress 127.0.0.1:{port}",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            f"PidFile {root / 'sshd.pid'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "AllowStreamLocalForwarding yes",
            "Subsystem sftp internal-sftp",
            "MaxSessions 20",
            "LogLevel ERROR",
            "",
        ]
    )


def _ssh_config(port: int, user: str, key: Path, known: Path) -> str:
    return "\n".join(
        [
            f"Host {ALIAS}",
            "    HostName 127.0.0.1",
            f"    Port {port}",
            f"    User {user}",
            f"    IdentityFile {key}",
            f"    UserKnownHostsFile {known}",
            "    StrictHostKeyChecking yes",
            "",
        ]
    )


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}; see sshd.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"sshd did not listen on port {port} within {timeout}s")
