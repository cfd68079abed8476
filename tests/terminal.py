"""A real terminal for the CLI's tests: a tmux session on a private tmux server.

Private, because tmux's default server is shared by every test (and engineer) on the
machine and gives a new session the environment of whoever started that server, not
ours; and a server of our own dies with the test, pane and all. What the terminal shows
is waited for (polled against a deadline), never slept for."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

KEEP_PANE = "sleep 3600"  # after the command: its last screen stays readable until the end


class Terminal:
    """One tmux session of 120x40 running `cmd` in a shell."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.base = ["tmux", "-L", name, "-f", os.devnull]

    def send(self, key: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", self.name, key], check=True)

    def text(self, scrollback: int = 0) -> str:
        back = ["-S", str(-scrollback)] if scrollback else []
        return subprocess.run(
            [*self.base, "capture-pane", "-p", *back, "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def wait(self, needle: str, timeout: float, scrollback: int = 0) -> str:
        """The terminal's text once `needle` shows on it; AssertionError with the text
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text(scrollback)
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not on the terminal within {timeout}s:\n{text}")

    def wait_gone(self, needle: str, timeout: float) -> str:
        """The terminal's text once `needle` no longer shows (a closed dialog)."""
        deadline = time.monotonic() + timeout
        text = self.text()
        while needle in text:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} still on the terminal after {timeout}s:\n{text}")
            time.sleep(0.2)
            text = self.text()
        return text


@contextmanager
def terminal(cmd: str, prefix: str) -> Iterator[Terminal]:
    """A terminal running `cmd` (then `echo EXIT=$?`), its server killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    term = Terminal(f"{prefix}-{os.getpid()}-{time.monotonic_ns()}")
    shell = f"{cmd}; echo EXIT=$?; {KEEP_PANE}"
    subprocess.run(
        [*term.base, "new-session", "-d", "-s", term.name, "-x", "120", "-y", "40", shell],
        check=True,
    )
    try:
        yield term
    finally:
        subprocess.run([*term.base, "kill-server"], check=False, capture_output=True)
