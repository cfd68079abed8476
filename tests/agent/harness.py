"""A real agent in a subprocess, on a private state dir, for the agent tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import tomli_w

from controlroom.agent.hostcli.client import AgentUnavailable, Client
from controlroom.config import AgentConfig

FAST_AGENT = {
    "heartbeat_s": 0.5,
    "telemetry_s": 1.0,
    "stop_grace_s": 10.0,
    "backoff_initial_s": 0.5,
    "backoff_max_s": 2.0,
    "stable_reset_s": 60.0,
    "crash_loop_count": 3,
    "crash_loop_window_s": 60.0,
    "hang_timeout_s": 60.0,
}


def shipped_timings() -> dict[str, Any]:
    """config.toml's [agent] defaults for the keys FAST_AGENT speeds up: the benches
    measure the agent as it ships."""
    defaults = AgentConfig()
    return {key: getattr(defaults, key) for key in FAST_AGENT}


# A stand-in trainer for tests about supervision, not learning: starts at once, costs nothing.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
# Tiny real trainers: CartPole learns on a CPU; checkpoints every second.
FAST_TRAINER = {
    "num_envs": 2,
    "num_steps": 16,
    "minibatch_size": 16,
    "checkpoint_interval_s": 1,
    "torch_threads": 1,
}

# Every flag of a tiny CartPole trainer, as trainer_argv takes them: for tests of the
# command line the agent builds.
CARTPOLE_FLAGS = {
    "env_id": "CartPole-v1",
    **FAST_TRAINER,
    "target_episodes": 0,
    "seed": 1,
    "device": "auto",
    "gpu_memory_fraction": 0.0,
    "keep_checkpoints": 3,
}


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll until check() is truthy; its value, or AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class AgentHarness:
    """Start, kill and restart a real agent; talk to it; clean up every process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / "state"
        self.config_path = root / "config.toml"
        self.boot_file = root / "boot_id"
        self.boot_file.write_text("boot-1\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "CONTROLROOM_BOOT_ID_FILE": str(self.boot_file)}
        self.env.pop("CONTROLROOM_STATE_DIR", None)

    def write_config(
        self,
        agent: dict[str, Any] | None = None,
        trainer: dict[str, Any] | None = None,
        games: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        doc: dict[str, Any] = {
            "agent": {**FAST_AGENT, **(agent or {})},
            "trainer": {**FAST_TRAINER, **(trainer or {})},
        }
        if games:
            doc["games"] = games
        self.config_path.write_text(tomli_w.dumps(doc))
        copy = self.state_dir / "config.toml"
        if copy.exists():  # the agent's own copy is its authority: keep them equal
            copy.write_text(self.config_path.read_text())

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "controlroom.agent",
            *args,
            "--state-dir",
            str(self.state_dir),
        ]

    def start(self) -> None:
        if not self.config_path.exists():
            self.write_config()
        log = open(self.root / "agent.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*self.argv("run"), "--config", str(self.config_path)],
            env=self.env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for(self._answers, 30, "the agent's socket")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"agent exited {self.proc.returncode}: "
                f"{(self.root / 'agent.out').read_text()[-2000:]}"
            )
        try:
            with self.client() as c:
                c.call("ping")
            return True
        except (AgentUnavailable, OSError):
            return False

    def client(self) -> Client:
        return Client(self.state_dir / "agent.sock", timeout=60)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        with self.client() as c:
            return c.call(op, **args)

    def game(self, name: str) -> dict[str, Any]:
        return self.call("status")["games"].get(name) or {}

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill(self) -> None:
        """SIGKILL the agent (trainers live on in their own sessions)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def trainers(self, under: str = "runs") -> list[psutil.Process]:
        """Live (non-zombie) processes running in one of this state dir's run dirs (or,
        with under="trials", in a beside trial's dir)."""
        runs = str((self.state_dir / under).resolve())  # trainers see resolved paths
        found = []
        for p in psutil.process_iter(["cmdline", "status", "cwd"]):
            cmd = " ".join(p.info["cmdline"] or [])
            here = runs in cmd or (p.info["cwd"] or "").startswith(runs)
            if here and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        return found

    def kill_trainers(self) -> None:
        for p in self.trainers() + self.trainers("trials"):
            with contextlib.suppress(psutil.Error):
                p.kill()
        wait_for(lambda: not self.trainers() and not self.trainers("trials"), 20, "trainers to die")

    def close(self) -> None:
        self.kill()
        self.kill_trainers()
